"""Small HTTP helpers shared by views."""

from django.conf import settings


def client_address(request) -> str:
    """The client's address; X-Forwarded-For is trusted only behind our own proxy."""
    if getattr(settings, "CARNET_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.META.get("REMOTE_ADDR", "")[:64]
