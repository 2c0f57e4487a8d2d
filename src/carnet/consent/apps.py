from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "carnet.consent"
    label = "consent"
    verbose_name = "Autorisations d'accès"
