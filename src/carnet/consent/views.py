"""« Accès à mon dossier » (/parametres/acces/): the patient sees the professionals related to
their space and decides: block or unblock, the médecin traitant, the "administrateurs", and the
three emergency switches.

Every action is a POST that sends the wanted state (never a toggle), takes the professional's
public id, and finds it among the professionals related to the owner's active space: any other
id is a 404, whether it exists in the directory or not.
"""

from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from carnet.core.http import client_address

from . import selectors, services
from .forms import FIELDS, EmergencySettingsForm


def _wanted(request) -> bool:
    """The state the form asks for ("1" or "0"): a double click or a resent form must not undo
    a privacy choice."""
    value = request.POST.get("valeur")
    if value not in ("0", "1"):
        raise SuspiciousOperation("valeur attendue : 0 ou 1")
    return value == "1"


@never_cache
@require_safe
def index(request):
    space = selectors.owned_active_space(request.user)
    current = selectors.emergency_settings(space)
    form = EmergencySettingsForm(initial={f: getattr(current, f) for f in FIELDS})
    return render(
        request,
        "consent/index.html",
        {"rows": selectors.related_professionals(space), "form": form},
    )


@require_POST
def emergency(request):
    space = selectors.owned_active_space(request.user)
    # Bound on every POST: an unticked box alone sends nothing, and still means "off". Three
    # optional boxes: the form is always valid.
    form = EmergencySettingsForm(request.POST)
    form.is_valid()
    services.emergency_settings_update(
        user=request.user,
        space=space,
        client=client_address(request),
        **{f: form.cleaned_data.get(f, False) for f in FIELDS},
    )
    messages.success(request, "Vos paramètres d'accès en urgence sont enregistrés.")
    return redirect("consent:index")


@never_cache
@require_safe
def block_confirm(request, public_id):
    space = selectors.owned_active_space(request.user)
    row = selectors.related_professional(space, public_id)
    if row.treating:
        messages.error(
            request,
            "Votre médecin traitant ne peut pas être bloqué : désignez d'abord un autre médecin "
            "traitant.",
        )
        return redirect("consent:index")
    if row.blocked:
        messages.info(request, f"{row.professional.full_name} est déjà bloqué(e).")
        return redirect("consent:index")
    return render(request, "consent/block_confirm.html", {"row": row})


@require_POST
def block(request, public_id):
    space = selectors.owned_active_space(request.user)
    row = selectors.related_professional(space, public_id)
    blocked = _wanted(request)
    name = row.professional.full_name
    try:
        services.block_set(
            user=request.user,
            space=space,
            professional=row.professional,
            blocked=blocked,
            client=client_address(request),
        )
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"{name} est bloqué(e) : il ou elle ne peut plus accéder à votre dossier."
            if blocked
            else f"{name} est débloqué(e).",
        )
    return redirect("consent:index")


@never_cache
@require_safe
def treating_confirm(request, public_id):
    space = selectors.owned_active_space(request.user)
    row = selectors.related_professional(space, public_id)
    if not row.may_be_treating:
        messages.error(
            request,
            f"{row.professional.full_name} est déjà votre médecin traitant."
            if row.treating
            else "Le médecin traitant doit être un médecin.",
        )
        return redirect("consent:index")
    current = selectors.treating_doctor(space)
    return render(request, "consent/treating_confirm.html", {"row": row, "current": current})


@require_POST
def treating(request, public_id):
    space = selectors.owned_active_space(request.user)
    row = selectors.related_professional(space, public_id)
    if row.treating:
        messages.info(request, f"{row.professional.full_name} est déjà votre médecin traitant.")
        return redirect("consent:index")
    try:
        services.treating_doctor_set(
            user=request.user,
            space=space,
            professional=row.professional,
            client=client_address(request),
        )
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{row.professional.full_name} est désormais votre médecin traitant."
        )
    return redirect("consent:index")


@require_POST
def administrator(request, public_id):
    space = selectors.owned_active_space(request.user)
    row = selectors.related_professional(space, public_id)
    wanted = _wanted(request)
    name = row.professional.full_name
    try:
        services.administrator_set(
            user=request.user,
            space=space,
            professional=row.professional,
            administrator=wanted,
            client=client_address(request),
        )
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"{name} est administrateur de votre dossier : il ou elle voit aussi vos documents "
            "masqués."
            if wanted
            else f"{name} n'est plus administrateur de votre dossier.",
        )
    return redirect("consent:index")
