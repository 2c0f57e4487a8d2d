from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "carnet.enrollment"
    label = "enrollment"
    verbose_name = "Ouverture des espaces"
