"""The professional portal's « Rendez-vous » of a patient (/pro/patients/<id>/rendez-vous/): the
appointments this professional added to the patient's agenda, and adding, changing or
cancelling one of them.

Adding is decided by consent (`Action.APPOINTMENT_ADD`, on the same basis as the record's other
sections) and writes the access event `acces_rendez_vous_ajout` in the transaction of the
appointment, whose own event (`rendez_vous_ajout`) the agenda writes. The page, a change and a
cancellation are decided the same way without an access event: the agenda's event names the act.
Whatever is refused, and any appointment this professional did not add, is the 404 of a missing
id. The appointment is the professional's (source « professionnel »): read only for the patient.

No notice is sent when an appointment is added: the patient's usual agenda reminder (before the
appointment, at the delay they chose) is the notice.
"""

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from carnet.agenda.models import Appointment
from carnet.agenda.services import (
    AgendaError,
    AppointmentData,
    appointment_add,
    appointment_delete,
    appointment_update,
)
from carnet.consent.models import Action
from carnet.consent.services import access_record
from carnet.core import clock
from carnet.core.http import client_address

from .forms import AppointmentForm
from .models import Professional
from .portal_views import TEMPLATES, _open, _patient

PAST_SHOWN = 20  # the most recent past appointments listed under the upcoming ones
# Addressed as « Dr » in the patient's agenda; the other professions are named with theirs.
DOCTORS = {
    Professional.Profession.MEDECIN,
    Professional.Profession.RADIOLOGUE,
    Professional.Profession.CHIRURGIEN_DENTISTE,
}


def source_name(professional) -> str:
    """Who added the appointment, as the patient's agenda says it: « Dr Claire DÉMO », or
    « Hugo MARTIN, Pharmacien »."""
    if professional.profession in DOCTORS:
        name = f"Dr {professional.first_name} {professional.last_name}"
    else:
        name = (
            f"{professional.first_name} {professional.last_name}, "
            f"{professional.get_profession_display()}"
        )
    return name[: Appointment._meta.get_field("source_name").max_length]


def _added_by(space, professional, user):
    """The live appointments of this space that this professional added from the portal."""
    return Appointment.objects.filter(
        space=space,
        source=Appointment.Source.PROFESSIONAL,
        professional=professional,
        author=user,
        deleted_at__isnull=True,
    )


def _upcoming(request, space, professional, appointment_id) -> Appointment:
    """One upcoming appointment this professional added, or the 404 of a missing id (another
    professional's, the patient's own, a cancelled or a past one)."""
    appointment = (
        _added_by(space, professional, request.user)
        .filter(public_id=appointment_id, starts_at__gt=clock.now())
        .first()
    )
    if appointment is None:
        raise Http404
    appointment.space = space  # already read, with its state: no second query
    return appointment


def _data(form, professional) -> AppointmentData:
    data = form.cleaned_data
    return AppointmentData(
        starts_at=data["starts_at"],
        ends_at=data["ends_at"],
        title=data["title"],
        place=data["place"],
        notes=data["notes"],
        professional=professional,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def appointments(request, space_id):
    """The list (upcoming first, then the most recent past ones) and « Ajouter un rendez-vous »."""
    professional, space, facts = _patient(request, space_id)
    # A page read is in the trail; an addition is written with the appointment, below.
    decision = _open(
        request, space, Action.APPOINTMENT_ADD, facts=facts, record=request.method == "GET"
    )
    posted = request.method == "POST"
    form = AppointmentForm(request.POST if posted else None)
    if posted and form.is_valid():
        try:
            with transaction.atomic():
                # Decided again and written to the trail with the appointment, or not at all.
                _open(request, space, Action.APPOINTMENT_ADD, facts=facts)
                appointment_add(
                    user=request.user,
                    space=space,
                    data=_data(form, professional),
                    source=Appointment.Source.PROFESSIONAL,
                    source_name=source_name(professional),
                    client=client_address(request),
                )
        except AgendaError as exc:  # the space closed meanwhile
            raise Http404 from exc
        messages.success(request, "Le rendez-vous a été ajouté à l'agenda du patient.")
        return redirect("professionals:appointments", space_id=space.public_id)
    now = clock.now()
    mine = _added_by(space, professional, request.user)
    upcoming = list(mine.filter(starts_at__gt=now).order_by("starts_at", "id"))
    past = list(mine.filter(starts_at__lte=now).order_by("-starts_at", "-id")[:PAST_SHOWN])
    return render(
        request,
        f"{TEMPLATES}appointments.html",
        {
            "space": space,
            "person": space.person,
            "basis": decision.reason,
            "emergency": facts.emergency,
            "form": form,
            "upcoming": upcoming,
            "past": past,
            "past_shown": PAST_SHOWN,
        },
        status=400 if form.is_bound else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def appointment_edit(request, space_id, appointment_id):
    professional, space, facts = _patient(request, space_id)
    decision = _open(request, space, Action.APPOINTMENT_ADD, facts=facts, record=False)
    appointment = _upcoming(request, space, professional, appointment_id)
    if request.method == "GET":  # the page read; a change or a cancellation has its own event
        access_record(
            request.user, space, Action.APPOINTMENT_ADD, decision, client=client_address(request)
        )
    posted = request.method == "POST"
    form = AppointmentForm(
        request.POST if posted else None, initial=AppointmentForm.initial_of(appointment)
    )
    if posted and form.is_valid():
        try:
            appointment_update(
                user=request.user,
                appointment=appointment,
                data=_data(form, professional),
                client=client_address(request),
                by_source=True,
            )
        except AgendaError as exc:  # the space closed, or the appointment went, meanwhile
            raise Http404 from exc
        messages.success(request, "Le rendez-vous a été modifié dans l'agenda du patient.")
        return redirect("professionals:appointments", space_id=space.public_id)
    return render(
        request,
        f"{TEMPLATES}appointments_edit.html",
        {"space": space, "person": space.person, "form": form, "appointment": appointment},
        status=400 if form.is_bound else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def appointment_cancel(request, space_id, appointment_id):
    """« Annuler ce rendez-vous ? »: confirmed by a POST, gone from the patient's agenda."""
    professional, space, facts = _patient(request, space_id)
    decision = _open(request, space, Action.APPOINTMENT_ADD, facts=facts, record=False)
    appointment = _upcoming(request, space, professional, appointment_id)
    if request.method == "GET":  # the page read; a change or a cancellation has its own event
        access_record(
            request.user, space, Action.APPOINTMENT_ADD, decision, client=client_address(request)
        )
    if request.method == "POST":
        try:
            appointment_delete(
                user=request.user,
                appointment=appointment,
                client=client_address(request),
                by_source=True,
            )
        except AgendaError as exc:  # the space closed meanwhile
            raise Http404 from exc
        messages.success(request, "Le rendez-vous a été annulé : il n'est plus dans l'agenda.")
        return redirect("professionals:appointments", space_id=space.public_id)
    return render(
        request,
        f"{TEMPLATES}appointments_cancel.html",
        {"space": space, "person": space.person, "appointment": appointment},
    )
