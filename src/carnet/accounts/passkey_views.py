"""Passkeys: the settings page (list, add, remove) and the login with a passkey alone.

The WebAuthn calls need JavaScript (static/carnet/passkeys.js): the page asks the server for
options, the browser talks to the authenticator, and the answer goes back in an ordinary form
field. Without JavaScript the passkey buttons stay hidden and the other logins remain.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from carnet.core.http import client_address

from . import passkeys, services
from .models import Passkey, User
from .settings_forms import PasskeyForm
from .settings_views import REAUTH_NEXT_KEY
from .views import NEXT_KEY, PORTALS, _url


def _json_options(options: str) -> HttpResponse:
    response = HttpResponse(options, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def _reauth_first(request):
    """Adding or removing a passkey changes how the account logs in: a fresh confirmation of
    identity first (password and code), as for closing the space."""
    if services.reauth_fresh(request.session):
        return None
    request.session[REAUTH_NEXT_KEY] = "parametres:passkeys"
    messages.info(request, "Pour gérer vos clés d'accès, confirmez d'abord votre identité.")
    return redirect("parametres:reauth")


@never_cache
@require_http_methods(["GET", "POST"])
def passkey_list(request):
    if (response := _reauth_first(request)) is not None:
        return response
    form = PasskeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            passkeys.passkey_register(
                session=request.session,
                user=request.user,
                name=form.cleaned_data["name"],
                credential=form.cleaned_data["credential"],
                client=client_address(request),
            )
        except passkeys.PasskeyError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Votre clé d'accès est enregistrée.")
            return redirect("parametres:passkeys")
    return render(
        request,
        "accounts/settings/passkeys.html",
        {"form": form, "passkeys": request.user.passkeys.all()},
    )


@never_cache
@require_POST
def passkey_options(request):
    if not services.reauth_fresh(request.session):
        return JsonResponse({"error": "Confirmez d'abord votre identité."}, status=403)
    try:
        return _json_options(
            passkeys.registration_options(session=request.session, user=request.user)
        )
    except passkeys.PasskeyError as exc:
        return JsonResponse({"error": exc.message}, status=400)


@never_cache
@require_http_methods(["GET", "POST"])
def passkey_delete(request, public_id):
    if (response := _reauth_first(request)) is not None:
        return response
    passkey = get_object_or_404(Passkey, user=request.user, public_id=public_id)
    if request.method == "POST":
        passkeys.passkey_delete(
            user=request.user, public_id=public_id, client=client_address(request)
        )
        messages.success(request, f"La clé d'accès « {passkey.name} » est supprimée.")
        return redirect("parametres:passkeys")
    return render(request, "accounts/settings/passkey_delete.html", {"passkey": passkey})


# --- Login ------------------------------------------------------------------------------------


@login_not_required
@never_cache
@require_POST
def login_options(request, kind=User.Kind.PATIENT):
    return _json_options(passkeys.authentication_options(session=request.session))


@login_not_required
@never_cache
@require_POST
def login_passkey(request, kind=User.Kind.PATIENT):
    client = client_address(request)
    try:
        user = passkeys.passkey_authenticate(
            session=request.session,
            credential=request.POST.get("credential", ""),
            kind=kind,
            client=client,
        )
    except passkeys.PasskeyError as exc:
        messages.error(request, exc.message)
        return redirect(_url(kind, "login"))
    following = request.session.pop(NEXT_KEY, None)
    first = services.login_complete(request=request, user=user, client=client, method="cle_acces")
    if following:
        return redirect(following)
    if first and kind == User.Kind.PATIENT:
        return redirect("core:welcome")
    return redirect(PORTALS[kind]["home"])
