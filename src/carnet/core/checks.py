"""Carnet's own deployment checks (`carnet check --deploy`)."""

import base64
import binascii
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


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


@register(Tags.security, deploy=True)
def secrets_from_the_environment(app_configs, **kwargs):
    """In production the secrets come from the secret store through the environment; a secret
    generated in var/ lives on one node's disk (lost with it, different on each node)."""
    local = getattr(settings, "LOCAL_SECRETS", [])
    if not local:
        return []
    return [
        Warning(
            f"Secrets lus dans le dossier local var/ : {', '.join(sorted(local))}.",
            hint="Fournissez SECRET_KEY, CARNET_HMAC_KEY, CARNET_KEYS et OIDC_RSA_PRIVATE_KEY "
            "par l'environnement (coffre de secrets), les mêmes sur chaque nœud.",
            id="carnet.W001",
        )
    ]


@register(Tags.security, deploy=True)
def key_encryption_keys_valid(app_configs, **kwargs):
    """Each key-encryption key is 32 bytes in base64: said at start-up, not at the first read."""
    problems = []
    if not settings.CARNET_KEYS:
        problems.append("CARNET_KEYS ne contient aucune clé")
    for key_id, value in settings.CARNET_KEYS.items():
        try:
            ok = len(base64.b64decode(value, validate=True)) == 32
        except (binascii.Error, ValueError, TypeError):
            ok = False
        if not ok:
            problems.append(f"la clé « {key_id} » de CARNET_KEYS n'est pas 32 octets en base64")
    return [
        Error(p, hint="Voir docs/operations.md, « Secrets et clés ».", id="carnet.E003")
        for p in problems
    ]


@register(Tags.security, deploy=True)
def blobs_off_the_web_node(app_configs, **kwargs):
    """With several web nodes, files on one node's disk are not seen by the others."""
    if settings.STORAGE_URL.startswith("s3://"):
        return []
    return [
        Warning(
            "Les fichiers chiffrés sont sur le disque local du nœud web.",
            hint="En production, STORAGE_URL=s3://… (stockage objet partagé par tous les nœuds).",
            id="carnet.W002",
        )
    ]


@register(Tags.security, deploy=True)
def redis_protected(app_configs, **kwargs):
    """Sessions (their keys, flash messages) and the task queue cross the network to Redis:
    anyone who can read or write there can take a session or queue work."""
    if not settings.REDIS_URL:
        return []
    url = urlsplit(settings.REDIS_URL)
    if url.scheme == "rediss" and url.password:
        return []
    return [
        Warning(
            "REDIS_URL n'a pas de chiffrement TLS ou pas de mot de passe.",
            hint="En production, REDIS_URL=rediss://UTILISATEUR:MOT_DE_PASSE@hôte:port/0 "
            "(TLS et un utilisateur ACL de Redis).",
            id="carnet.W003",
        )
    ]
