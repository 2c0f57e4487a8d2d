"""Small HTTP helpers shared by views."""

from django.conf import settings


def client_address(request) -> str:
    """The client's address, used to count failures per client.

    Behind N reverse proxies of ours (CARNET_PROXY_COUNT = N), the client is the address our
    outermost proxy appended: the N-th entry from the right of X-Forwarded-For. Entries further
    left are written by the client and cannot be trusted.
    """
    count = settings.CARNET_PROXY_COUNT
    if count > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= count:
            return hops[-count][:64]
    return request.META.get("REMOTE_ADDR", "")[:64]
