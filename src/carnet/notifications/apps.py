from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "carnet.notifications"
    label = "notifications"
    verbose_name = "Notifications"
