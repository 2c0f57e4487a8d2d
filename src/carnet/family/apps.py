from django.apps import AppConfig


class FamilyConfig(AppConfig):
    name = "carnet.family"
    verbose_name = "Profils rattachés"
