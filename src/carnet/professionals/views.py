"""The professional's activation, from the link of the invitation email (/pro/activer/<token>/).

Step 1: identifier, password and confirmation; step 2: the QR code of a new TOTP authenticator
and its first code. Any link that cannot serve (unknown, forged, used, revoked, expired) gets
the same page "Ce lien n'est plus valable", and such links are counted per client.
"""

from base64 import b32encode
from urllib.parse import quote, urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from carnet.core import ratelimit
from carnet.core.http import client_address

from . import selectors, services
from .forms import ProCredentialsForm, TotpCodeForm

SESSION_KEY = "pro_activation"


def _client_key(request) -> str:
    return f"pro-invitation:{client_address(request)}"


def _invitation(request, token: str):
    """(invitation, None) for a link that can serve, else (None, the response to send)."""
    key = _client_key(request)
    limits = settings.CARNET
    if ratelimit.blocked_until(key):
        minutes = int(limits["ACTIVATION_LOCKOUT"].total_seconds() // 60)
        return None, _gone(request, blocked_minutes=minutes)
    invitation = selectors.invitation_by_token(token)
    if invitation is None:
        ratelimit.record_failure(
            key,
            limit=limits["ACTIVATION_MAX_FAILURES_PER_CLIENT"],
            window=limits["ACTIVATION_FAILURE_WINDOW"],
            lockout=limits["ACTIVATION_LOCKOUT"],
        )
        return None, _gone(request)
    return invitation, None


def _gone(request, *, blocked_minutes: int = 0):
    request.session.pop(SESSION_KEY, None)
    return render(
        request,
        "professionals/link_invalid.html",
        {"blocked_minutes": blocked_minutes},
        status=429 if blocked_minutes else 410,
    )


def _state(invitation) -> dict:
    return {"invitation": invitation.pk, "user": invitation.pending_user_id}


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def activate(request, token):
    invitation, refused = _invitation(request, token)
    if refused:
        return refused
    professional = invitation.professional
    if request.method == "POST":
        form = ProCredentialsForm(request.POST, professional=professional)
        if form.is_valid():
            try:
                services.activation_credentials(
                    invitation,
                    identifier=form.cleaned_data["identifier"],
                    password=form.cleaned_data["password"],
                )
            except services.IdentifierTaken:
                form.add_error("identifier", "Cet identifiant est déjà pris.")
            else:
                request.session[SESSION_KEY] = _state(invitation)
                return redirect("professionals:activate_totp", token=token)
    else:
        form = ProCredentialsForm(professional=professional)
    return render(
        request,
        "professionals/activate.html",
        {"form": form, "professional": professional, "step": 1},
    )


def _otpauth_uri(device, identifier: str) -> str:
    """The key URI authenticator apps read (issuer = the service's name)."""
    issuer = settings.SERVICE_NAME.replace(":", "")
    params = urlencode(
        {
            "secret": b32encode(device.bin_key).decode(),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": device.digits,
            "period": device.step,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{quote(issuer)}:{quote(identifier)}?{params}"


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def activate_totp(request, token):
    invitation, refused = _invitation(request, token)
    if refused:
        return refused
    device = selectors.pending_device(invitation)
    if device is None or request.session.get(SESSION_KEY) != _state(invitation):
        messages.info(request, "Choisissez d'abord votre identifiant et votre mot de passe.")
        return redirect("professionals:activate", token=token)
    if request.method == "POST":
        form = TotpCodeForm(request.POST)
        if form.is_valid():
            try:
                services.activation_complete(
                    invitation, code=form.cleaned_data["code"], client=client_address(request)
                )
            except services.ActivationError as exc:
                if exc.link_invalid:
                    return _gone(request)
                form.add_error("code", exc.message)
            else:
                request.session.pop(SESSION_KEY, None)
                messages.success(
                    request,
                    "Votre compte professionnel est activé. Connectez-vous avec votre "
                    "identifiant, votre mot de passe et le code de votre application.",
                )
                return redirect("accounts:pro_login")
    else:
        form = TotpCodeForm()
    identifier = invitation.pending_user.identifier
    uri = _otpauth_uri(device, identifier)
    return render(
        request,
        "professionals/activate_totp.html",
        {
            "form": form,
            "professional": invitation.professional,
            "identifier": identifier,
            "qr_data_uri": segno.make(uri, error="m").svg_data_uri(scale=5, border=4),
            "secret": _grouped(b32encode(device.bin_key).decode()),
            "step": 2,
        },
    )
