"""Password login with brute-force protection (the one-time code step comes with issue 3)."""

import hashlib

from django.conf import settings
from django.contrib.auth import authenticate

from carnet.core import ratelimit


class LoginBlocked(Exception):
    def __init__(self, minutes: int):
        super().__init__(minutes)
        self.minutes = minutes


def _keys(identifier: str, client: str) -> dict[str, str]:
    digest = hashlib.sha256(identifier.lower().encode()).hexdigest()[:32]
    return {"identifier": f"login:id:{digest}", "client": f"login:client:{client}"}


def login_check(*, request, identifier: str, password: str, client: str):
    """Return the user or None; one answer whether identifier or password was wrong."""
    limits = settings.CARNET
    keys = _keys(identifier, client)
    if any(ratelimit.blocked_until(k) for k in keys.values()):
        raise LoginBlocked(int(limits["LOGIN_LOCKOUT"].total_seconds() // 60))
    user = authenticate(request, identifier=identifier, password=password)
    if user is None:
        # Django's ModelBackend already hashes a dummy password for an unknown identifier,
        # so both failures take the same time.
        for kind, key in keys.items():
            ratelimit.record_failure(
                key,
                limit=limits[f"LOGIN_MAX_FAILURES_PER_{kind.upper()}"],
                window=limits["LOGIN_FAILURE_WINDOW"],
                lockout=limits["LOGIN_LOCKOUT"],
            )
        return None
    ratelimit.reset(keys["identifier"])
    return user
