"""Account kinds never share pages, and a session ends at the latest 12 hours after login.

Patients, professionals and operators each have their area: a GET elsewhere goes back to
one's own home, any other method is refused (403). Public views (login_required = False) are
open to all, and SHARED_VIEWS to every kind. Runs after LoginRequiredMiddleware.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseForbidden
from django.shortcuts import redirect, resolve_url
from django.template.loader import render_to_string

from carnet.core import clock
from carnet.core.sessions import AUTH_AT, absolute_remaining, renew, renewal_due

from .models import SessionRecord, User

AREAS = (("/pro/", User.Kind.PROFESSIONAL), ("/operateur/", User.Kind.OPERATOR))
HOMES = {
    User.Kind.PATIENT: "core:home",
    User.Kind.PROFESSIONAL: "accounts:pro_home",
    User.Kind.OPERATOR: "accounts:operator_home",
}
LOGINS = {
    User.Kind.PATIENT: "accounts:login",
    User.Kind.PROFESSIONAL: "accounts:pro_login",
    User.Kind.OPERATOR: "accounts:operator_login",
}
# Private views every kind of account uses. Adding one is a decision: say why.
SHARED_VIEWS = {
    "accounts:logout",  # everyone must be able to end their session
    "core:session_keepalive",  # the idle warning's "Rester connecté"
}


def area_kind(path: str) -> str:
    for prefix, kind in AREAS:
        if path.startswith(prefix):
            return kind
    return User.Kind.PATIENT


class AccountKindMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated:
            _renew_visitor(request)
            return None
        public = not getattr(view_func, "login_required", True)
        if _session_too_old(request):
            kind = user.kind
            _end_session(request)
            messages.info(request, "Votre session a expiré : identifiez-vous à nouveau.")
            if public:
                return None  # the page is shown as to any visitor
            return redirect_to_login(request.get_full_path(), resolve_url(LOGINS[kind]))
        _follow_rotated_key(request)
        _touch(request)
        if public or _view_name(request) in SHARED_VIEWS:
            return None
        if user.kind == area_kind(request.path):
            return None
        if request.method != "GET":
            return HttpResponseForbidden(
                render_to_string("403.html", {"reason": "kind"}, request=request)
            )
        return redirect(HOMES[user.kind])


def _touch(request) -> None:
    """Renew the idle timeout and keep "Mes appareils et sessions" honest (last activity), both
    at most once per SESSION_SEEN_INTERVAL (carnet.core.sessions)."""
    if not renewal_due(request.session):
        return
    renew(request.session)
    key = request.session.session_key
    if key:
        SessionRecord.objects.filter(session_key=key, ended_at__isnull=True).update(
            last_seen_at=clock.now()
        )


def _follow_rotated_key(request) -> None:
    """Django gives a session a new id when it verified it with a retired secret key
    (SECRET_KEY_FALLBACKS, during a key rotation): its line of "Mes appareils et sessions"
    follows, so that ending it there, or changing the password, still ends this session."""
    cookie_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    key = request.session.session_key
    if cookie_key and key and cookie_key != key:
        SessionRecord.objects.filter(session_key=cookie_key, ended_at__isnull=True).update(
            session_key=key
        )


def _renew_visitor(request) -> None:
    """A visitor's session that holds something (an activation under way, a share unlocked)
    is renewed by activity like a logged-in one; a cookie of an ended session creates none."""
    session = request.session
    if session.session_key and len(session.keys()) and renewal_due(session):
        renew(session)


def _view_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    return match.view_name if match else ""


def _session_too_old(request) -> bool:
    """Absolute lifetime: a session ends SESSION_ABSOLUTE_LIFETIME after login, active or not.

    A logged-in session without a login time (not made by login_complete) starts its clock now.
    """
    left = absolute_remaining(request.session)
    if left is None:
        request.session[AUTH_AT] = clock.now().isoformat()
        return False
    return left < timedelta(0)


def _end_session(request) -> None:
    key = request.session.session_key
    if key:
        SessionRecord.objects.filter(session_key=key, ended_at__isnull=True).update(
            ended_at=clock.now()
        )
    logout(request)  # flushes the session: deleted from the store


class AreaLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, sending each area to its own login page
    (/pro/… to /pro/connexion/, /operateur/… to /operateur/connexion/)."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.user.is_authenticated or not getattr(view_func, "login_required", True):
            return None
        login_url = getattr(view_func, "login_url", None) or LOGINS[area_kind(request.path)]
        return redirect_to_login(
            request.get_full_path(), resolve_url(login_url), self.get_redirect_field_name(view_func)
        )
