"""Login in three steps (password, channel, code) for each account kind, and logout.

Patients log in at /connexion/, professionals at /pro/connexion/, operators at
/operateur/connexion/; the same views serve all three, parametrised by the kind.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from carnet.core import ratelimit
from carnet.core.http import client_address

from . import services
from .forms import ChannelForm, CodeForm, LoginForm
from .middleware import area_kind
from .models import OneTimeCode, User

PORTALS = {
    User.Kind.PATIENT: {"ns": "", "title": "Je m'identifie", "home": "core:home"},
    User.Kind.PROFESSIONAL: {
        "ns": "pro_",
        "title": "Portail des professionnels de santé",
        "home": "accounts:pro_home",
    },
    User.Kind.OPERATOR: {
        "ns": "operator_",
        "title": "Espace opérateur",
        "home": "accounts:operator_home",
    },
}


NEXT_KEY = "login_next"
# The identity provider offered on each portal's login page, when configured (carnet.federation).
FEDERATION_OF_KIND = {User.Kind.PATIENT: "franceconnect", User.Kind.PROFESSIONAL: "prosanteconnect"}


def _federation(kind: str) -> dict | None:
    key = FEDERATION_OF_KIND.get(kind)
    config = settings.FEDERATION_PROVIDERS.get(key) if key else None
    if not config or not config["metadata_url"] or not config["client_id"]:
        return None
    return {"name": config["name"], "url": reverse(f"federation:{key}")}


def _remember_next(request, kind: str) -> None:
    """Keep ?next= (a page of this kind's own area on this site) for after the last step."""
    following = request.GET.get("next")
    if not following:
        return
    safe = url_has_allowed_host_and_scheme(
        following, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if safe and following.startswith("/") and area_kind(following) == kind:
        request.session[NEXT_KEY] = following


def _url(kind: str, step: str) -> str:
    return f"accounts:{PORTALS[kind]['ns']}{step}"


def _totp_device(user: User):
    if user.kind == User.Kind.PATIENT:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request, kind=User.Kind.PATIENT):
    _remember_next(request, kind)
    if request.method == "POST":
        form = LoginForm(request.POST)
        if form.is_valid():
            try:
                user = services.password_check(
                    request=request,
                    identifier=form.cleaned_data["identifier"],
                    password=form.cleaned_data["password"],
                    client=client_address(request),
                    kind=kind,
                )
            except services.LoginBlocked as blocked:
                form.add_error(
                    None,
                    "Trop de tentatives infructueuses. Par sécurité, réessayez dans "
                    f"{blocked.minutes} minutes.",
                )
            else:
                if user is None:
                    form.add_error(None, "Identifiant ou mot de passe incorrect.")
                else:
                    services.pending_login_start(request.session, user, kind=kind)
                    return redirect(_url(kind, "login_channel"))
    else:
        form = LoginForm()
    return render(
        request,
        "accounts/login.html",
        {"form": form, "kind": kind, "portal": PORTALS[kind], "federation": _federation(kind)},
    )


def _restart(request, kind):
    messages.error(request, "Votre connexion a expiré : identifiez-vous à nouveau.")
    return redirect(_url(kind, "login"))


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def channel_view(request, kind=User.Kind.PATIENT):
    user = services.pending_login_user(request.session, kind=kind)
    if user is None:
        return _restart(request, kind)
    if _totp_device(user):
        request.session["login_channel"] = "totp"
        return redirect(_url(kind, "login_code"))
    channels = services.verified_channels(user)
    if request.method == "POST":
        form = ChannelForm(request.POST, channels=channels)
        if form.is_valid():
            channel = form.cleaned_data["channel"]
            try:
                services.otp_send(user=user, purpose=OneTimeCode.Purpose.LOGIN, channel=channel)
            except services.TooManyCodes as exc:
                form.add_error(None, exc.message)
            else:
                request.session["login_channel"] = channel
                return redirect(_url(kind, "login_code"))
    else:
        form = ChannelForm(channels=channels)
    return render(
        request,
        "accounts/login_channel.html",
        {"form": form, "channels": channels, "kind": kind, "portal": PORTALS[kind]},
    )


def _check_totp(user: User, token: str) -> str | None:
    """None when accepted, else the French reason. Wrong tokens are counted and limited."""
    key = f"totp:{user.public_id}"
    if ratelimit.blocked_until(key):
        minutes = int(settings.CARNET["LOGIN_LOCKOUT"].total_seconds() // 60)
        return f"Trop de codes erronés. Par sécurité, réessayez dans {minutes} minutes."
    device = _totp_device(user)
    if device is not None and device.verify_token(token):
        ratelimit.reset(key)
        return None
    limits = settings.CARNET
    ratelimit.record_failure(
        key,
        limit=limits["OTP_MAX_ATTEMPTS"],
        window=limits["LOGIN_FAILURE_WINDOW"],
        lockout=limits["LOGIN_LOCKOUT"],
    )
    return "Code incorrect."


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def code_view(request, kind=User.Kind.PATIENT):
    user = services.pending_login_user(request.session, kind=kind)
    channel = request.session.get("login_channel")
    if user is None or channel is None:
        return _restart(request, kind)
    client = client_address(request)
    destination = next((c for c in services.verified_channels(user) if c.channel == channel), None)
    if request.method == "POST" and "renvoyer" in request.POST and channel != "totp":
        try:
            services.otp_send(user=user, purpose=OneTimeCode.Purpose.LOGIN, channel=channel)
        except (services.TooManyCodes, services.CodeError) as exc:
            messages.error(request, exc.message)
        else:
            messages.info(request, "Un nouveau code vous a été envoyé.")
        return redirect(_url(kind, "login_code"))
    need_new = False
    if request.method == "POST":
        form = CodeForm(request.POST)
        if form.is_valid():
            code = form.cleaned_data["code"]
            if channel == "totp":
                reason = _check_totp(user, code)
                if reason:
                    form.add_error("code", reason)
            else:
                try:
                    services.otp_verify(
                        user=user, purpose=OneTimeCode.Purpose.LOGIN, code=code, client=client
                    )
                except services.CodeError as exc:
                    form.add_error("code", exc.message)
                    need_new = exc.need_new
            if form.is_valid():
                request.session.pop("login_channel", None)
                following = request.session.pop(NEXT_KEY, None)
                first = services.login_complete(request=request, user=user, client=client)
                if following:
                    return redirect(following)
                if first and kind == User.Kind.PATIENT:
                    return redirect("core:welcome")
                return redirect(PORTALS[kind]["home"])
    else:
        form = CodeForm()
    return render(
        request,
        "accounts/login_code.html",
        {
            "form": form,
            "channel": channel,
            "destination": destination,
            "need_new": need_new,
            "minutes": int(settings.CARNET["OTP_VALIDITY"].total_seconds() // 60),
            "kind": kind,
            "portal": PORTALS[kind],
        },
    )


@require_POST
def logout_view(request):
    kind = getattr(request.user, "kind", User.Kind.PATIENT)
    provider_logout = request.session.get(services.LOGOUT_REDIRECT_KEY)
    services.logout_record(request=request, client=client_address(request))
    logout(request)
    if provider_logout:
        # Then the identity provider ends its own session and comes back to our login page.
        # A page, not a redirect: the CSP's form-action ('self') would stop a form's redirect
        # to another site; a link (followed at once by a meta refresh) is a new navigation.
        return render(
            request, "accounts/logout_provider.html", {"provider_logout": provider_logout}
        )
    messages.success(request, "Vous êtes déconnecté(e).")
    return redirect(_url(kind, "login"))


@never_cache
def pro_home(request):
    from carnet.professionals.selectors import professional_of

    return render(
        request, "accounts/pro_home.html", {"professional": professional_of(request.user)}
    )


@never_cache
def operator_home(request):
    return render(request, "accounts/operator_home.html")
