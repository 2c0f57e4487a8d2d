"""When a logged-in session ends: idle timeout or absolute lifetime, whichever comes first.

The idle timeout is Django's SESSION_COOKIE_AGE, counted from the session's last save: a
request renews it (`renew`, from accounts.middleware) at most once per
CARNET["SESSION_SEEN_INTERVAL"] — saving the session on every request would write the session
store each time, for a deadline that moves by seconds. So a session left idle ends between
SESSION_COOKIE_AGE minus that interval and SESSION_COOKIE_AGE after its last request, never
later. The absolute lifetime, CARNET["SESSION_ABSOLUTE_LIFETIME"], counts from the login, whose
moment accounts.services.login_complete keeps in the session under AUTH_AT.
"""

from datetime import datetime, timedelta

from django.conf import settings

from . import clock

AUTH_AT = "auth_at"
SEEN_AT = "seen_at"  # the last renewal (a timestamp): the idle timeout counts from it


def renew(session) -> None:
    """Restart the idle timeout: the session, modified, is saved with a new expiry."""
    session[SEEN_AT] = clock.now().timestamp()


def renewal_due(session) -> bool:
    seen = session.get(SEEN_AT)
    # Never more than a tenth of the idle timeout: a short timeout set by an operator must not
    # end the session of someone active.
    interval = min(
        settings.CARNET["SESSION_SEEN_INTERVAL"].total_seconds(), settings.SESSION_COOKIE_AGE / 10
    )
    return not seen or clock.now().timestamp() - seen >= interval


def idle_remaining(session) -> int:
    """Seconds before the idle timeout ends the session, counted from its last renewal."""
    idle = int(settings.SESSION_COOKIE_AGE)
    seen = session.get(SEEN_AT)
    if not seen:
        return idle
    return max(0, min(idle, round(seen + idle - clock.now().timestamp())))


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
    idle = idle_remaining(session)
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
