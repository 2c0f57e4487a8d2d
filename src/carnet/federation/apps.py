from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "carnet.federation"
    verbose_name = "Identification par FranceConnect+ et Pro Santé Connect"

    def ready(self):
        from . import signals  # noqa: F401 (connects the link made at the next login)
