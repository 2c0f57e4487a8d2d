"""The activation wizard (/activer/), "J'ai besoin d'un code", and opposition.

Closing a space is done from the account settings (accounts.settings_views).

One step per page, no JavaScript needed. What the person typed is kept in the session so
that back links show it again; the provisional code itself is never kept, nor written back into
a page. Pages show personal data: none may be cached (`never_cache`).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from carnet.core import clock
from carnet.core.http import client_address
from carnet.core.validators import mask_email, mask_mobile
from carnet.registry.models import InsuredPerson

from . import services
from .forms import (
    ContactCodeForm,
    ContactsForm,
    CredentialsForm,
    DecisionForm,
    IdentifyForm,
    NewCodeForm,
)
from .models import ContactCheck, ProvisionalCode, Space

SESSION_KEY = services.ACTIVATION_SESSION_KEY
STEPS = [
    "Je m'identifie",
    "Je prends ma décision",
    "Je vérifie mes coordonnées",
    "Je choisis mon identifiant et mon mot de passe",
]


def _state(request) -> dict:
    return request.session.get(SESSION_KEY, {})


def _save(request, state: dict) -> None:
    request.session[SESSION_KEY] = state


def _identified(request) -> services.Identified | None:
    """The identification kept in the session, re-read from the database."""
    state = _state(request)
    if "code_id" not in state:
        return None
    code = ProvisionalCode.objects.filter(
        pk=state["code_id"],
        used_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=clock.now(),
    ).first()
    if code is None:
        return None
    space = Space.objects.filter(person_id=code.person_id).first()
    if space is None:
        return None
    person = InsuredPerson.objects.get(pk=code.person_id)
    return services.Identified(person=person, code=code, space=space)


def _step(n: int) -> dict:
    return {"step": n, "step_count": len(STEPS), "step_title": STEPS[n - 1]}


def _restart(request, message="Votre session a expiré : recommencez l'identification."):
    messages.error(request, message)
    return redirect("enrollment:identify")


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def identify(request):
    state = _state(request)
    failure = None
    if request.method == "POST":
        form = IdentifyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            entered = {k: data[k] for k in ("nir", "card_model", "vitale_serial")}
            entered["birth_date"] = data["birth_date"].strftime("%d/%m/%Y")
            try:
                identified = services.identification_check(
                    code=data["code"],
                    nir=data["nir"],
                    birth_date=data["birth_date"],
                    vitale_photo=data["vitale_photo"],
                    vitale_serial=data["vitale_serial"],
                    client=client_address(request),
                )
            except services.IdentificationError as exc:
                failure = exc
                _save(request, {"entered": entered})
                # a fresh form: the bound one would write the code back into the page
                form = IdentifyForm(initial=entered)
            else:
                request.session.cycle_key()  # a new session id once identified
                _save(request, {"entered": entered, "code_id": identified.code.pk})
                return redirect("enrollment:decision")
    else:
        form = IdentifyForm(initial=state.get("entered", {}))
    return render(
        request, "enrollment/identify.html", {"form": form, "failure": failure, **_step(1)}
    )


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def decision(request):
    identified = _identified(request)
    if identified is None:
        return _restart(request)
    state = _state(request)
    auto_created = identified.space.state == Space.State.ACTIVE
    if request.method == "POST":
        form = DecisionForm(request.POST)
        if form.is_valid():
            state["decision"] = form.cleaned_data["decision"]
            _save(request, state)
            if state["decision"] == "activer":
                return redirect("enrollment:contacts")
            return redirect("enrollment:oppose")
    else:
        form = DecisionForm(initial={"decision": state.get("decision")})
    return render(
        request,
        "enrollment/decision.html",
        {"form": form, "auto_created": auto_created, "person": identified.person, **_step(2)},
    )


def _confirm_next_contact(request, person, state: dict):
    """Send a code to the next changed, unconfirmed email or mobile; else go to step 4.

    Raises services.TooManyCodes when the person asked for too many codes."""
    verified = state.get("verified", {})
    for channel, key, original in (
        (ContactCheck.Channel.EMAIL, "email", person.email),
        (ContactCheck.Channel.SMS, "mobile", person.mobile),
    ):
        value = state["contacts"][key]
        if value and value != original and verified.get(channel) != value:
            check = services.contact_check_start(person=person, channel=channel, value=value)
            state["check"] = {"id": check.pk, "channel": channel, "value": value}
            _save(request, state)
            return redirect("enrollment:contact_confirm")
    state.pop("check", None)  # nothing left to confirm
    _save(request, state)
    return redirect("enrollment:credentials")


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def contacts(request):
    identified = _identified(request)
    state = _state(request)
    if identified is None or state.get("decision") != "activer":
        return _restart(request)
    person = identified.person
    if request.method == "POST":
        form = ContactsForm(request.POST)
        if form.is_valid():
            email, mobile = form.cleaned_data["email"], form.cleaned_data["mobile"]
            state["contacts"] = {"email": email, "mobile": mobile}
            _save(request, state)
            try:
                return _confirm_next_contact(request, person, state)
            except services.TooManyCodes as exc:
                form.add_error(None, str(exc))
    else:
        initial = state.get("contacts") or {"email": person.email, "mobile": person.mobile}
        form = ContactsForm(initial=initial)
    return render(request, "enrollment/contacts.html", {"form": form, **_step(3)})


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def contact_confirm(request):
    identified = _identified(request)
    state = _state(request)
    check = state.get("check")
    if identified is None or not check:
        return _restart(request)
    masked = (
        mask_email(check["value"]) if check["channel"] == "email" else mask_mobile(check["value"])
    )
    if request.method == "POST" and "renvoyer" in request.POST:
        try:
            new = services.contact_check_start(
                person=identified.person, channel=check["channel"], value=check["value"]
            )
        except services.TooManyCodes as exc:
            messages.error(request, str(exc))
        else:
            state["check"]["id"] = new.pk
            _save(request, state)
            messages.info(request, f"Un nouveau code a été envoyé à {masked}.")
        return redirect("enrollment:contact_confirm")
    if request.method == "POST":
        form = ContactCodeForm(request.POST)
        if form.is_valid():
            try:
                services.contact_check_confirm(
                    check_id=check["id"], person=identified.person, code=form.cleaned_data["code"]
                )
            except ValidationError as exc:
                form.add_error("code", exc)
            else:
                state.setdefault("verified", {})[check["channel"]] = check["value"]
                state.pop("check")
                _save(request, state)
                return redirect("enrollment:contacts_next")
    else:
        form = ContactCodeForm()
    return render(
        request,
        "enrollment/contact_confirm.html",
        {
            "form": form,
            "masked": masked,
            "channel": check["channel"],
            "minutes": int(settings.CARNET["CONTACT_CODE_VALIDITY"].total_seconds() // 60),
            **_step(3),
        },
    )


@login_not_required
@never_cache
@require_safe
def contacts_next(request):
    """After a confirmation, check the other changed channel, then go on."""
    identified = _identified(request)
    state = _state(request)
    if identified is None or "contacts" not in state:
        return _restart(request)
    try:
        return _confirm_next_contact(request, identified.person, state)
    except services.TooManyCodes as exc:
        messages.error(request, str(exc))
        return redirect("enrollment:contacts")


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def credentials(request):
    identified = _identified(request)
    state = _state(request)
    if identified is None or "contacts" not in state or state.get("decision") != "activer":
        return _restart(request)
    if state.get("check"):  # a changed email or mobile is confirmed before going on
        return redirect("enrollment:contact_confirm")
    suggestions = []
    if request.method == "POST":
        form = CredentialsForm(request.POST)
        if form.is_valid():
            person, chosen = identified.person, state["contacts"]
            verified = state.get("verified", {})
            try:
                services.space_activate(
                    identified=identified,
                    credentials=services.Credentials(
                        identifier=form.cleaned_data["identifier"],
                        password=form.cleaned_data["password"],
                        email=chosen["email"],
                        # unchanged registry contacts were used by the insurer to reach the person
                        email_verified=bool(chosen["email"])
                        and chosen["email"] in (person.email, verified.get("email")),
                        mobile=chosen["mobile"],
                        mobile_verified=bool(chosen["mobile"])
                        and chosen["mobile"] in (person.mobile, verified.get("sms")),
                    ),
                    client=client_address(request),
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
                if "identifier" in exc.message_dict:
                    suggestions = services.identifier_suggestions(
                        form.cleaned_data.get("identifier", "")
                        or f"{person.first_name}.{person.last_name}".lower()
                    )
            except services.TransitionError as exc:
                return _restart(request, str(exc))
            else:
                request.session.pop(SESSION_KEY, None)
                request.session["activation_done"] = True
                return redirect("enrollment:done")
    else:
        form = CredentialsForm()
    return render(
        request,
        "enrollment/credentials.html",
        {"form": form, "suggestions": suggestions, **_step(4)},
    )


@login_not_required
@never_cache
@require_safe
def done(request):
    if not request.session.pop("activation_done", False):
        return redirect("enrollment:identify")
    return render(request, "enrollment/done.html")


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def oppose(request):
    identified = _identified(request)
    state = _state(request)
    if identified is None or state.get("decision") != "opposer":
        return _restart(request)
    if request.method == "POST":
        try:
            space = services.space_oppose(identified=identified, client=client_address(request))
        except services.TransitionError as exc:
            return _restart(request, str(exc))
        request.session.pop(SESSION_KEY, None)
        request.session["opposed_space"] = str(space.public_id)
        return redirect("enrollment:opposed")
    auto_created = identified.space.state == Space.State.ACTIVE
    return render(
        request,
        "enrollment/oppose.html",
        {"auto_created": auto_created, "person": identified.person, **_step(2)},
    )


def _opposed_space(request) -> Space:
    public_id = request.session.get("opposed_space")
    space = Space.objects.filter(public_id=public_id).select_related("person").first()
    if space is None or space.state not in (Space.State.OPPOSED, Space.State.CLOSED):
        raise Http404
    return space


@login_not_required
@never_cache
@require_safe
def opposed(request):
    space = _opposed_space(request)
    return render(request, "enrollment/opposed.html", {"space": space})


@login_not_required
@never_cache
@require_safe
def opposition_pdf(request):
    space = _opposed_space(request)
    response = HttpResponse(
        services.opposition_proof_pdf(space=space), content_type="application/pdf"
    )
    response["Content-Disposition"] = 'attachment; filename="attestation-opposition.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def new_code(request):
    failure = None
    if request.method == "POST":
        form = NewCodeForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.code_reissue(
                    nir=data["nir"],
                    birth_date=data["birth_date"],
                    vitale_serial=data["vitale_serial"],
                    client=client_address(request),
                )
            except services.IdentificationError as exc:
                failure = exc
            else:
                return redirect("enrollment:new_code_sent")
    else:
        form = NewCodeForm()
    return render(request, "enrollment/new_code.html", {"form": form, "failure": failure})


@login_not_required
@never_cache
@require_safe
def new_code_sent(request):
    return render(request, "enrollment/new_code_sent.html")


@login_not_required
@never_cache
@require_safe
def serial_help(request):
    return render(request, "enrollment/serial_help.html")
