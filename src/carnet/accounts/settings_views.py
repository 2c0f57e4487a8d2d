"""Account settings of a patient (/parametres/): contact details, password, identifier,
notifications, devices and sessions, activity, and closing or deleting one's space.

Closing and deleting sit behind a fresh re-authentication (password and one-time code) and an
explicit confirmation. Every change goes through one service in accounts.services.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from carnet.core import clock
from carnet.core.http import client_address
from carnet.core.validators import mask_email, mask_mobile
from carnet.enrollment import services as enrollment_services
from carnet.enrollment.selectors import own_space

from . import selectors, services
from .models import OneTimeCode
from .settings_forms import (
    ConfirmForm,
    EmailChangeForm,
    IdentifierChangeForm,
    MobileChangeForm,
    PasswordChangeForm,
    PreferencesForm,
    ReauthForm,
    VerificationCodeForm,
)

CONTACT_KEY = "contact_change"
REAUTH_NEXT_KEY = "reauth_next"
# Where a re-authentication may lead back to: names, never a URL taken from the request.
REAUTH_TARGETS = {
    "parametres:close",
    "parametres:delete",
    "parametres:passkeys",
    "exports:index",
}


def _minutes(delta) -> int:
    return int(delta.total_seconds() // 60)


def _duration_fr(delta) -> str:
    """« 10 ans », « 7 jours »: how long a rule of settings.CARNET lasts, in words."""
    days = delta.days
    if days >= 365:
        years = round(days / 365.25)
        return f"{years} an{'s' if years > 1 else ''}"
    return f"{days} jour{'s' if days > 1 else ''}"


def _form_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _own_space(request):
    space = own_space(request.user)
    if space is None:
        raise Http404
    return space


def reauth_required(view):
    """The view needs a re-authentication younger than REAUTH_VALIDITY."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not services.reauth_fresh(request.session):
            request.session[REAUTH_NEXT_KEY] = request.resolver_match.view_name
            messages.info(request, "Pour continuer, confirmez votre identité.")
            return redirect("parametres:reauth")
        return view(request, *args, **kwargs)

    return wrapper


@never_cache
@require_safe
def index(request):
    return render(request, "accounts/settings/index.html", {"space": own_space(request.user)})


# --- Contact details ------------------------------------------------------------------------


@never_cache
@require_safe
def contacts(request):
    return render(request, "accounts/settings/contacts.html")


CONTACT_PAGES = {
    OneTimeCode.Channel.EMAIL: (EmailChangeForm, "email", "Modifier mon adresse e-mail"),
    OneTimeCode.Channel.SMS: (MobileChangeForm, "mobile", "Modifier mon numéro de mobile"),
}


@never_cache
@require_http_methods(["GET", "POST"])
def contact_edit(request, channel):
    form_class, field, title = CONTACT_PAGES[channel]
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            value = form.cleaned_data[field]
            try:
                services.contact_change_start(
                    user=request.user, channel=channel, value=value, client=client_address(request)
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            except services.TooManyCodes as exc:
                form.add_error(None, exc.message)
            else:
                request.session[CONTACT_KEY] = {"channel": channel, "value": value}
                return redirect("parametres:contact_confirm")
    else:
        form = form_class()
    return render(request, "accounts/settings/contact_edit.html", {"form": form, "title": title})


@never_cache
@require_http_methods(["GET", "POST"])
def contact_confirm(request):
    pending = request.session.get(CONTACT_KEY)
    if not pending:
        return redirect("parametres:contacts")
    channel, value = pending["channel"], pending["value"]
    masked = mask_email(value) if channel == OneTimeCode.Channel.EMAIL else mask_mobile(value)
    client = client_address(request)
    if request.method == "POST" and "renvoyer" in request.POST:
        try:
            services.contact_change_start(
                user=request.user, channel=channel, value=value, client=client
            )
        except (ValidationError, services.TooManyCodes) as exc:
            messages.error(request, getattr(exc, "message", None) or exc.messages[0])
        else:
            messages.info(request, f"Un nouveau code a été envoyé à {masked}.")
        return redirect("parametres:contact_confirm")
    if request.method == "POST":
        form = VerificationCodeForm(request.POST)
        if form.is_valid():
            try:
                services.contact_change_confirm(
                    user=request.user, code=form.cleaned_data["code"], client=client
                )
            except services.CodeError as exc:
                form.add_error("code", exc.message)
            else:
                request.session.pop(CONTACT_KEY, None)
                messages.success(
                    request,
                    "Votre adresse e-mail est modifiée."
                    if channel == OneTimeCode.Channel.EMAIL
                    else "Votre numéro de mobile est modifié.",
                )
                return redirect("parametres:contacts")
    else:
        form = VerificationCodeForm()
    return render(
        request,
        "accounts/settings/contact_confirm.html",
        {
            "form": form,
            "channel": channel,
            "masked": masked,
            "minutes": _minutes(settings.CARNET["OTP_VALIDITY"]),
        },
    )


# --- Password and identifier ----------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def password(request):
    if request.method == "POST":
        form = PasswordChangeForm(request.POST)
        if form.is_valid():
            try:
                services.password_change(
                    request=request,
                    current=form.cleaned_data["current_password"],
                    new=form.cleaned_data["new_password"],
                    client=client_address(request),
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            except services.PasswordCheckBlocked as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    "Votre mot de passe est modifié. Vos autres sessions ont été fermées.",
                )
                return redirect("parametres:index")
    else:
        form = PasswordChangeForm()
    return render(request, "accounts/settings/password.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def identifier(request):
    suggestions = []
    if request.method == "POST":
        form = IdentifierChangeForm(request.POST)
        if form.is_valid():
            wanted = form.cleaned_data["identifier"]
            try:
                services.identifier_change(
                    user=request.user, identifier=wanted, client=client_address(request)
                )
            except ValidationError as exc:
                _form_errors(form, exc)
                if "Cet identifiant est déjà pris." in exc.messages:
                    suggestions = enrollment_services.identifier_suggestions(wanted)
            else:
                messages.success(request, "Votre identifiant est modifié.")
                return redirect("parametres:index")
    else:
        form = IdentifierChangeForm()
    return render(
        request, "accounts/settings/identifier.html", {"form": form, "suggestions": suggestions}
    )


# --- Notifications --------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def notifications(request):
    preferences = services.preferences_get(user=request.user)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.preferences_update(
                user=request.user, values=form.cleaned_data, client=client_address(request)
            )
            messages.success(request, "Vos préférences de notification sont enregistrées.")
            return redirect("parametres:notifications")
    else:
        form = PreferencesForm(
            initial={f: getattr(preferences, f) for f in services.PREFERENCE_FIELDS}
        )
    return render(request, "accounts/settings/notifications.html", {"form": form})


# --- Devices and sessions -------------------------------------------------------------------


@never_cache
@require_safe
def sessions(request):
    current = request.session.session_key
    records = selectors.sessions_active(request.user)
    return render(
        request,
        "accounts/settings/sessions.html",
        {
            "records": records,
            "current": current,
            "others": sum(1 for r in records if r.session_key != current),
        },
    )


@require_POST
def session_end(request, public_id):
    current = request.session.session_key
    record = next(
        (r for r in selectors.sessions_active(request.user) if str(r.public_id) == str(public_id)),
        None,
    )
    if record is None:
        messages.error(request, "Cette session est déjà terminée.")
    elif record.session_key == current:
        messages.error(request, "Pour terminer cette session, déconnectez-vous.")
    else:
        services.session_end(
            user=request.user, public_id=str(public_id), client=client_address(request)
        )
        messages.success(request, "La session est terminée.")
    return redirect("parametres:sessions")


@require_POST
def sessions_end_others(request):
    ended = services.sessions_end(
        user=request.user,
        except_key=request.session.session_key,
        reason="fin des autres sessions",
        client=client_address(request),
    )
    messages.success(
        request,
        f"{ended} autre(s) session(s) terminée(s)." if ended else "Aucune autre session ouverte.",
    )
    return redirect("parametres:sessions")


# --- Activity -------------------------------------------------------------------------------


@never_cache
@require_safe
def activity(request):
    subject = request.GET.get("sujet", "")
    subject = subject if subject in selectors.SUBJECTS else ""
    paginator = Paginator(
        selectors.activity_events(request.user, subject=subject),
        settings.CARNET["ACTIVITY_PAGE_SIZE"],
    )
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/settings/activity.html",
        {
            "page": page,
            "activities": selectors.activities_describe(page.object_list, request.user),
            "subject": subject,
            "subject_label": selectors.SUBJECTS.get(subject, ""),
        },
    )


# --- Re-authentication ----------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def reauth(request):
    user = request.user
    channels = services.verified_channels(user)
    if request.method == "POST":
        form = ReauthForm(request.POST, channels=channels)
        if form.is_valid():
            try:
                accepted = services.reauth_start(
                    session=request.session,
                    user=user,
                    password=form.cleaned_data["password"],
                    channel=form.cleaned_data["channel"],
                    client=client_address(request),
                )
            except (services.PasswordCheckBlocked, services.TooManyCodes) as exc:
                form.add_error(None, exc.message)
            except services.CodeError as exc:
                form.add_error("channel", exc.message)
            else:
                if accepted:
                    return redirect("parametres:reauth_code")
                form.add_error("password", "Mot de passe incorrect.")
    else:
        form = ReauthForm(channels=channels)
    return render(request, "accounts/settings/reauth.html", {"form": form, "channels": channels})


@never_cache
@require_http_methods(["GET", "POST"])
def reauth_code(request):
    user = request.user
    channel = services.reauth_pending(request.session)
    if channel is None:
        return redirect("parametres:reauth")
    destination = next((c for c in services.verified_channels(user) if c.channel == channel), None)
    client = client_address(request)
    if request.method == "POST" and "renvoyer" in request.POST:
        try:
            services.otp_send(user=user, purpose=OneTimeCode.Purpose.REAUTH, channel=channel)
        except (services.TooManyCodes, services.CodeError) as exc:
            messages.error(request, exc.message)
        else:
            messages.info(request, "Un nouveau code vous a été envoyé.")
        return redirect("parametres:reauth_code")
    need_new = False
    if request.method == "POST":
        form = VerificationCodeForm(request.POST)
        if form.is_valid():
            try:
                services.reauth_complete(
                    session=request.session,
                    user=user,
                    code=form.cleaned_data["code"],
                    client=client,
                )
            except services.CodeError as exc:
                form.add_error("code", exc.message)
                need_new = exc.need_new
            else:
                target = request.session.pop(REAUTH_NEXT_KEY, None)
                return redirect(target if target in REAUTH_TARGETS else "parametres:index")
    else:
        form = VerificationCodeForm()
    return render(
        request,
        "accounts/settings/reauth_code.html",
        {
            "form": form,
            "channel": channel,
            "destination": destination,
            "need_new": need_new,
            "minutes": _minutes(settings.CARNET["OTP_VALIDITY"]),
        },
    )


# --- Closing, deleting, reopening -----------------------------------------------------------


def _retention_context() -> dict:
    limits = settings.CARNET
    return {
        "archive_retention": _duration_fr(limits["ARCHIVE_RETENTION"]),
        "cancel_window": _duration_fr(limits["DELETION_CANCEL_WINDOW"]),
    }


@never_cache
@require_http_methods(["GET", "POST"])
@reauth_required
def close(request):
    space = _own_space(request)
    if request.method == "POST":
        form = ConfirmForm(request.POST, label="Je confirme vouloir clôturer mon espace")
        if form.is_valid():
            try:
                services.holder_space_close(
                    user=request.user, space=space, client=client_address(request)
                )
            except enrollment_services.TransitionError as exc:
                messages.error(request, str(exc))
                return redirect("parametres:space")
            logout(request)  # its session has already ended with all the others
            messages.success(
                request,
                "Votre espace est clôturé et vous êtes déconnecté(e). Vous pouvez le rouvrir à "
                "tout moment en vous connectant.",
            )
            return redirect("accounts:login")
    else:
        form = ConfirmForm(label="Je confirme vouloir clôturer mon espace")
    return render(
        request,
        "accounts/settings/close.html",
        {"form": form, "space": space, **_retention_context()},
    )


@never_cache
@require_http_methods(["GET", "POST"])
@reauth_required
def delete(request):
    space = _own_space(request)
    label = "Je comprends que la suppression de mes données sera définitive"
    if request.method == "POST":
        form = ConfirmForm(request.POST, label=label)
        if form.is_valid():
            was_active = space.state == space.State.ACTIVE
            try:
                services.holder_deletion_request(
                    user=request.user, space=space, client=client_address(request)
                )
            except enrollment_services.TransitionError as exc:
                messages.error(request, str(exc))
                return redirect("parametres:space")
            due = clock.localtime_fr(space.deletion_due_at)
            if was_active:
                logout(request)  # closing ended every session, this one too
                messages.success(
                    request,
                    "Votre espace est clôturé et la suppression de vos données est demandée : "
                    f"elle aura lieu après le {due}. Pour l'annuler, connectez-vous avant "
                    "cette date.",
                )
                return redirect("accounts:login")
            messages.success(
                request,
                f"Votre demande de suppression est enregistrée : elle aura lieu après le {due}. "
                "Vous pouvez l'annuler d'ici là.",
            )
            return redirect("parametres:space")
    else:
        form = ConfirmForm(label=label)
    return render(
        request,
        "accounts/settings/delete.html",
        {"form": form, "space": space, **_retention_context()},
    )


SPACE_ACTIONS = {
    "rouvrir": (
        services.holder_space_reopen,
        "Votre espace est rouvert : tout est à nouveau disponible.",
    ),
    "annuler": (services.holder_deletion_cancel, "Votre demande de suppression est annulée."),
}


@never_cache
@require_http_methods(["GET", "POST"])
def space(request):
    """My space's state; for a closed one: reopen it, or cancel a deletion request."""
    own = _own_space(request)
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in SPACE_ACTIONS:
            messages.error(request, "Choisissez une action proposée sur la page.")
            return redirect("parametres:space")
        handler, done = SPACE_ACTIONS[action]
        try:
            handler(user=request.user, space=own, client=client_address(request))
        except enrollment_services.TransitionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done)
            if action == "rouvrir":
                return redirect("core:home")
        return redirect("parametres:space")
    return render(request, "accounts/settings/space.html", {"space": own, **_retention_context()})
