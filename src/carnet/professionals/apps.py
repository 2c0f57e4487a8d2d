from django.apps import AppConfig


class ProfessionalsConfig(AppConfig):
    name = "carnet.professionals"
    label = "professionals"
    verbose_name = "Professionnels de santé"
