"""The home page, the public legal pages, and the session helpers
(keep-alive of the idle warning, the page shown when a form fails the CSRF check)."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from carnet.core.sessions import remaining, renew
from carnet.enrollment.selectors import space_for_user

LEGAL_PAGES = {
    "cgu": "Conditions générales d'utilisation",
    "privacy": "Politique de protection des données personnelles",
    "accessibility": "Déclaration d'accessibilité",
    "legal": "Mentions légales",
}


@login_not_required
@require_safe
def home(request):
    user = request.user
    if not user.is_authenticated:
        return render(request, "core/home.html")
    if user.kind != user.Kind.PATIENT:
        from carnet.accounts.middleware import HOMES

        return redirect(HOMES[user.kind])
    space = space_for_user(user)
    return render(
        request, "core/space_home.html", {"space": space, "prevention_now": _prevention_now(space)}
    )


def _prevention_now(space) -> list:
    """The prevention items to do now (the home's card: seen from the first login on)."""
    from carnet.agenda.prevention_services import prevention_calendar

    if space is None or space.state != space.State.ACTIVE:
        return []
    return [item for item in prevention_calendar(space).items if item.group == "a_faire"]


@never_cache
@require_safe
def welcome(request):
    return render(request, "core/welcome.html")


def legal_page(name):
    @login_not_required
    @require_safe
    def view(request):
        return render(request, f"core/{name}.html", {"title": LEGAL_PAGES[name]})

    view.__name__ = f"legal_{name}"
    return view


@never_cache
@require_POST
def session_keepalive(request):
    """The idle warning's "Rester connecté": renews the session now, whatever the last renewal.

    Open to every account kind (accounts.middleware.SHARED_VIEWS); answers when the session
    now ends, so the warning can be scheduled again.
    """
    renew(request.session)
    seconds, extendable = remaining(request.session)
    return JsonResponse({"expires_in": seconds, "extendable": extendable})


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a French page in our layout (Django's own carries an inline style);
    for the JSON API (carnet.api), its JSON error."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            {"detail": "Jeton CSRF absent ou invalide (en-tête X-CSRFToken).", "errors": []},
            status=403,
        )
    return render(request, "core/csrf_failure.html", status=403)


# --- Liveness and readiness (load balancer, orchestrator) -------------------------------------


@login_not_required
@never_cache
@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_safe
def readyz(request):
    from carnet.core.health import readiness

    checks = readiness()
    ready = all(state == "ok" for state in checks.values())
    body = {"status": "ok" if ready else "indisponible", "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)


@login_not_required
@never_cache
@require_safe
def metrics(request):
    """Prometheus's scrape, with its bearer token; 404 when no token is configured."""
    from django.conf import settings
    from django.http import Http404, HttpResponse
    from prometheus_client import CONTENT_TYPE_LATEST

    from carnet.core.metrics import exposition, token_valid

    if not settings.METRICS_TOKEN:
        raise Http404
    if not token_valid(request.headers.get("Authorization", "")):
        response = JsonResponse({"error": "jeton absent ou invalide"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
