"""Public recovery pages: "Identifiant oublié ?" and "Mot de passe oublié ?".

Every page answers the same way whether or not an account matches what was typed: nothing is
shown on screen, codes and identifiers go to the account's verified email or mobile. The reset
progress lives in the session, never in a URL.
"""

from datetime import datetime
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from carnet.core import clock
from carnet.core.http import client_address

from . import services
from .forms import CodeForm, ForgotIdentifierForm, ForgotPasswordForm, NewPasswordForm
from .middleware import HOMES
from .models import OneTimeCode, User

RESET_KEY = "password_reset"
RESET_DONE_KEY = "password_reset_done"
LOGIN_URLS = {
    User.Kind.PATIENT: "accounts:login",
    User.Kind.PROFESSIONAL: "accounts:pro_login",
    User.Kind.OPERATOR: "accounts:operator_login",
}


def anonymous_only(view):
    """A logged-in person changes their password from the settings, not here: these pages
    renew the session key, which would part the session from its record in "Mes appareils"."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if user.is_authenticated:
            if user.kind == User.Kind.PATIENT:
                messages.info(
                    request, "Vous êtes connecté(e) : gérez votre compte depuis vos paramètres."
                )
                return redirect("parametres:index")
            return redirect(HOMES[user.kind])
        return view(request, *args, **kwargs)

    return wrapper


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
@anonymous_only
def forgot_identifier(request):
    if request.method == "POST":
        form = ForgotIdentifierForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.identifier_remind(
                    nir=data["nir"],
                    birth_date=data["birth_date"],
                    vitale_photo=data["vitale_photo"],
                    vitale_serial=data["vitale_serial"],
                    client=client_address(request),
                )
            except services.RecoveryLocked as exc:
                form.add_error(None, exc.message)
            else:
                return redirect("accounts:forgot_identifier_sent")
    else:
        form = ForgotIdentifierForm()
    return render(request, "accounts/forgot_identifier.html", {"form": form})


@login_not_required
@never_cache
@require_safe
@anonymous_only
def forgot_identifier_sent(request):
    return render(request, "accounts/forgot_identifier_sent.html")


# --- Password reset -------------------------------------------------------------------------


def _now_iso() -> str:
    return clock.now().isoformat()


def _reset_state(request) -> dict | None:
    state = request.session.get(RESET_KEY)
    if not state:
        return None
    if (
        clock.now() - datetime.fromisoformat(state["at"])
        > settings.CARNET["PASSWORD_RESET_VALIDITY"]
    ):
        request.session.pop(RESET_KEY, None)
        return None
    return state


def _reset_user(state: dict) -> User | None:
    if not state.get("user"):
        return None
    return User.objects.filter(public_id=state["user"], is_active=True).first()


def _restart(request, message="Votre demande a expiré : recommencez."):
    request.session.pop(RESET_KEY, None)
    messages.error(request, message)
    return redirect("accounts:forgot_password")


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
@anonymous_only
def forgot_password(request):
    if request.method == "POST":
        form = ForgotPasswordForm(request.POST)
        if form.is_valid():
            channel = form.cleaned_data["channel"]
            try:
                user = services.password_reset_start(
                    identifier=form.cleaned_data["identifier"],
                    channel=channel,
                    client=client_address(request),
                )
            except services.RecoveryLocked as exc:
                form.add_error(None, exc.message)
            else:
                request.session.cycle_key()
                request.session[RESET_KEY] = {
                    "user": str(user.public_id) if user else None,
                    "channel": channel,
                    "at": _now_iso(),
                    "sent_at": _now_iso(),
                    "fails": 0,
                }
                return redirect("accounts:forgot_password_code")
    else:
        form = ForgotPasswordForm()
    return render(request, "accounts/forgot_password.html", {"form": form})


def _unknown_code_error(state: dict) -> services.CodeError:
    """What a code refusal looks like for an account that does not exist: the same messages,
    in the same order, as `services.otp_verify` gives for a real one."""
    limits = settings.CARNET
    if state["fails"] >= limits["OTP_MAX_ATTEMPTS"]:
        return services.CodeError(
            "Trop de codes erronés : demandez un nouveau code.", need_new=True
        )
    if clock.now() - datetime.fromisoformat(state["sent_at"]) >= limits["OTP_VALIDITY"]:
        return services.CodeError("Ce code a expiré : demandez un nouveau code.", need_new=True)
    state["fails"] += 1
    left = limits["OTP_MAX_ATTEMPTS"] - state["fails"]
    if left:
        return services.CodeError(f"Code incorrect. Il vous reste {left} essai(s).")
    return services.CodeError(
        "Code incorrect. Trop de codes erronés : demandez un nouveau code.", need_new=True
    )


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
@anonymous_only
def forgot_password_code(request):
    state = _reset_state(request)
    if state is None:
        return _restart(request)
    if state.get("code_id"):  # already confirmed: back from the next page
        return redirect("accounts:forgot_password_new")
    user = _reset_user(state)
    client = client_address(request)
    if request.method == "POST" and "renvoyer" in request.POST:
        if user is not None:
            try:
                record = services.otp_send(
                    user=user, purpose=OneTimeCode.Purpose.RESET, channel=state["channel"]
                )
            except (services.TooManyCodes, services.CodeError):
                pass  # said to nobody: an unknown identifier gets no such answer either
            else:
                state["channel"] = record.channel
        state.update(at=_now_iso(), sent_at=_now_iso(), fails=0)
        request.session[RESET_KEY] = state
        messages.info(request, "Si votre compte existe, un nouveau code vous a été envoyé.")
        return redirect("accounts:forgot_password_code")
    need_new = False
    if request.method == "POST":
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                if user is None:
                    raise _unknown_code_error(state)
                record = services.otp_verify(
                    user=user,
                    purpose=OneTimeCode.Purpose.RESET,
                    code=form.cleaned_data["code"],
                    client=client,
                )
            except services.CodeError as exc:
                form.add_error("code", exc.message)
                need_new = exc.need_new
                request.session[RESET_KEY] = state
            else:
                request.session.cycle_key()
                state.update(code_id=record.pk, at=_now_iso())
                request.session[RESET_KEY] = state
                return redirect("accounts:forgot_password_new")
    else:
        form = CodeForm()
    return render(
        request,
        "accounts/forgot_password_code.html",
        {
            "form": form,
            "need_new": need_new,
            "minutes": int(settings.CARNET["OTP_VALIDITY"].total_seconds() // 60),
        },
    )


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
@anonymous_only
def forgot_password_new(request):
    state = _reset_state(request)
    user = _reset_user(state) if state else None
    if state is None or user is None or not state.get("code_id"):
        return _restart(request)
    if request.method == "POST":
        form = NewPasswordForm(request.POST)
        if form.is_valid():
            try:
                services.password_reset_complete(
                    user=user,
                    code_id=state["code_id"],
                    password=form.cleaned_data["password"],
                    client=client_address(request),
                )
            except ValidationError as exc:
                if not hasattr(exc, "error_dict"):
                    return _restart(request, exc.messages[0])
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                request.session.pop(RESET_KEY, None)
                request.session[RESET_DONE_KEY] = user.kind
                return redirect("accounts:forgot_password_done")
    else:
        form = NewPasswordForm()
    return render(request, "accounts/forgot_password_new.html", {"form": form})


@login_not_required
@never_cache
@require_safe
@anonymous_only
def forgot_password_done(request):
    kind = request.session.pop(RESET_DONE_KEY, None)
    if kind not in LOGIN_URLS:
        return redirect("accounts:forgot_password")
    return render(request, "accounts/forgot_password_done.html", {"login_url": LOGIN_URLS[kind]})
