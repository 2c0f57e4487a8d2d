"""When a logged-in session ends: idle timeout or absolute lifetime, whichever comes first.

The idle timeout is Django's SESSION_COOKIE_AGE (every request saves the session and renews
it); the absolute lifetime, CARNET["SESSION_ABSOLUTE_LIFETIME"], counts from the login, whose
moment accounts.services.login_complete keeps in the session under AUTH_AT.
"""

from datetime import datetime, timedelta

from django.conf import settings

from . import clock

AUTH_AT = "auth_at"


def auth_started(session) -> datetime | None:
    started = session.get(AUTH_AT)
    return datetime.fromisoformat(started) if started else None


def absolute_remaining(session) -> timedelta | None:
    """Time left before the absolute end of the session (None if it holds no login time)."""
    started = auth_started(session)
    if started is None:
        return None
    return started + settings.CARNET["SESSION_ABSOLUTE_LIFETIME"] - clock.now()


def remaining(session) -> tuple[int, bool]:
    """(seconds before the session ends if left idle from now, whether activity extends it)."""
    idle = int(settings.SESSION_COOKIE_AGE)
    left = absolute_remaining(session)
    if left is None:
        return idle, True
    absolute = max(0, int(left.total_seconds()))
    return min(idle, absolute), absolute > idle


def timing(request) -> dict:
    """Context processor: what the idle warning (static/carnet/session.js) needs."""
    user = getattr(request, "user", None)
    session = getattr(request, "session", None)
    if user is None or session is None or not user.is_authenticated:
        return {}
    seconds, extendable = remaining(session)
    warn = int(settings.CARNET["SESSION_WARNING_BEFORE"].total_seconds())
    return {
        "session_timing": {"expires_in": seconds, "extendable": extendable, "warn_before": warn}
    }
