from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "carnet.registry"
    label = "registry"
    verbose_name = "Registre des assurés"
