from django.apps import AppConfig


class ProfileConfig(AppConfig):
    name = "carnet.profile"
    label = "profile"
    verbose_name = "Profil médical"
