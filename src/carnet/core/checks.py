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


@register(Tags.compatibility)
def storage_url_valid(app_configs, **kwargs):
    """A malformed STORAGE_URL is said at start-up, not as a 500 at the first upload
    (no network call: the bucket itself is checked by /readyz)."""
    from carnet.core.stores import store_from_url

    try:
        store_from_url(settings.STORAGE_URL)
    except ValueError as exc:
        return [
            Error(
                str(exc),
                hint="Voir docs/operations.md, « Fichiers chiffrés ».",
                id="carnet.E002",
            )
        ]
    return []
