"""Carnet's own deployment checks (`carnet check --deploy`)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def demo_mode_off(app_configs, **kwargs):
    if settings.DEMO_MODE:
        return [
            Error(
                "Le mode démonstration (CARNET_DEMO) est actif : la boîte d'envoi /outbox/ "
                "montre tous les codes envoyés.",
                hint="Retirez CARNET_DEMO de l'environnement de production.",
                id="carnet.E001",
            )
        ]
    return []
