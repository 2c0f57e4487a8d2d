"""FHIR writes: a professional's software deposits a DocumentReference (with its file inline),
on behalf of one of its establishment's professionals, under the portal's very rules.

The resource is validated by fhir.resources, then turned into the portal's own upload form, so
that the file checks (type sniffed, size, PDF limits, isolated checker) and the error messages
are the portal's; the deposit is decided by `consent` like the portal's (a professional the
patient blocked cannot add). Unknown patient and refused deposit get the same answer: nothing
tells a software which insured persons exist.
"""

import uuid
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from fhir.resources.R4B.documentreference import DocumentReference
from pydantic import ValidationError

from carnet.consent.services import Denied
from carnet.core import clock
from carnet.documents.services import SpaceNotWritable
from carnet.enrollment.models import Space
from carnet.enrollment.services import is_minor
from carnet.professionals.forms import ProfessionalUploadForm
from carnet.professionals.models import Professional
from carnet.professionals.services import document_add_by_professional

from . import codes
from .http import Caller, Refusal

NOT_FOUND = "Patient introuvable, ou dépôt non autorisé pour ce professionnel."
EXTENSIONS = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "text/plain": "txt",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
}


def body_limit(resource_type: str) -> int:
    """The largest accepted body: for a document, the largest file in base64 with room for
    the rest; for anything else, FHIR_SMALL_BODY_BYTES."""
    small = settings.CARNET["FHIR_SMALL_BODY_BYTES"]
    if resource_type == "DocumentReference":
        return settings.CARNET["DOCUMENT_MAX_BYTES"] * 4 // 3 + small
    return small


def parse(raw: bytes, model):
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "ressource"
        raise Refusal(400, f"Ressource {model.__name__} invalide ({where}).") from None
    except ValueError:
        raise Refusal(400, "Le corps de la requête n'est pas un JSON FHIR valable.") from None


def _identifier(references, system: str) -> str | None:
    for reference in references or []:
        identifier = getattr(reference, "identifier", None)
        if identifier is not None and identifier.system == system and identifier.value:
            return identifier.value
    return None


def _professional(caller: Caller, resource) -> Professional:
    rpps = _identifier(resource.author, codes.RPPS)
    if rpps is None:
        raise Refusal(422, "L'auteur (author) doit être un professionnel identifié par son RPPS.")
    professional = (
        Professional.objects.select_related("user")
        .filter(rpps=rpps, finess=caller.app.finess, user__isnull=False)
        .first()
    )
    if professional is None or not caller.app.finess:
        raise Refusal(403, "Ce professionnel n'exerce pas dans l'établissement de ce logiciel.")
    return professional


def _space(resource) -> Space:
    nir = _identifier([resource.subject] if resource.subject else [], codes.INS_NIR)
    if nir is None:
        raise Refusal(422, "Le patient (subject) doit être identifié par son INS (NIR).")
    space = Space.objects.select_related("person").filter(person__nir=nir).first()
    if space is None:
        raise Refusal(404, NOT_FOUND, "not-found")
    return space


def _category(resource) -> str:
    for concept in [*(resource.category or []), *([resource.type] if resource.type else [])]:
        for coding in concept.coding or []:
            if coding.system == codes.DOCUMENT_CATEGORY and coding.code:
                return coding.code
    raise Refusal(422, f"Catégorie manquante : un code du système {codes.DOCUMENT_CATEGORY}.")


def _file(resource) -> tuple[str, bytes, str]:
    if not resource.content or resource.content[0].attachment is None:
        raise Refusal(422, "Le document n'a pas de contenu (content.attachment).")
    attachment = resource.content[0].attachment
    if not attachment.data:
        raise Refusal(422, "Le fichier se transmet dans content.attachment.data (base64).")
    data = attachment.data  # base64 checked and decoded by fhir.resources
    if isinstance(data, str):
        data = data.encode()
    extension = EXTENSIONS.get((attachment.contentType or "").split(";")[0].strip(), "bin")
    title = (resource.description or attachment.title or "").strip()
    return f"document.{extension}", data, title


def _day(value) -> date | None:
    """A FHIR date or dateTime (a date, a datetime, or an ISO string) as a day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _document_date(resource) -> date | None:
    """The document's own date: the period it covers, else its file's creation, else `date`."""
    context = resource.context
    period = context.period if context is not None else None
    attachment = resource.content[0].attachment
    return (
        _day(period.start if period is not None else None)
        or _day(attachment.creation)
        or _day(resource.date)
    )


def document_reference_create(caller: Caller, raw: bytes):
    """The deposit; returns the new Document. Refusal (400/403/404/413/422) otherwise.

    Everything the software sent is checked (resource, author, category, file) before the
    patient is looked up, and the patient's consent decides last: an unknown NIR and a refused
    deposit get the same 404, whatever else is wrong with the request."""
    if caller.connection is not None:
        raise Refusal(403, "Seul le logiciel d'un professionnel dépose des documents.")
    caller.require("DocumentReference", "c")
    resource = parse(raw, DocumentReference)
    professional = _professional(caller, resource)
    name, data, title = _file(resource)
    when = _document_date(resource) or timezone.localdate(clock.now())
    form = ProfessionalUploadForm(
        {
            "title": title,
            "category": _category(resource),
            "document_date": when.isoformat(),
            "confidential": bool(resource.securityLabel),
        },
        {"file": SimpleUploadedFile(name, data)},
        minor=True,  # kept only for a minor, below
    )
    if not form.is_valid():
        problems = [f"{field} : {' '.join(errors)}" for field, errors in form.errors.items()]
        raise Refusal(422, "Document refusé. " + " ; ".join(problems))
    cleaned = form.cleaned_data
    space = _space(resource)
    try:
        with transaction.atomic():
            return document_add_by_professional(
                user=professional.user,
                space=space,
                facts=None,
                checked=cleaned["file"],
                title=cleaned["title"],
                category=cleaned["category"],
                document_date=cleaned["document_date"],
                confidential=cleaned.get("confidential", False) and is_minor(space.person),
                client=caller.client,
            )
    except (Denied, SpaceNotWritable):
        raise Refusal(404, NOT_FOUND, "not-found") from None


# --- A connected app writes for the person: measurements, and a booking service's appointments


class AppActor:
    """A connected app as the actor of a write: named in the trail, no account behind it."""

    def __init__(self, caller: Caller):
        from carnet.catalogue.services import app_actor

        self.actor = app_actor(caller.app)
        self.name = caller.app.name


def _patient_app(caller: Caller, resource_type: str, letter: str) -> None:
    if caller.connection is None:
        raise Refusal(403, "Seule une application connectée par la personne écrit ici.")
    caller.require(resource_type, letter)


def _own_subject(caller: Caller, subject) -> None:
    reference = getattr(subject, "reference", None) or ""
    if reference.removeprefix("Patient/") != str(caller.space.public_id):
        raise Refusal(422, "subject doit être le profil connecté (Patient/<id>).")


def _local(moment) -> str:
    moment = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def observation_create(caller: Caller, raw: bytes):
    """A measurement app adds a measure; the profile form's checks (kind, range, unit, not in
    the future) decide, with its French messages."""
    from fhir.resources.R4B.observation import Observation

    from carnet.profile.forms import MeasurementForm
    from carnet.profile.models import Measurement
    from carnet.profile.services import entry_create

    from .mappers import observation_codes

    _patient_app(caller, "Observation", "c")
    resource = parse(raw, Observation)
    _own_subject(caller, resource.subject)
    codes_of = {code: kind for kind, code in observation_codes().items()}
    loinc = [c.code for c in (resource.code.coding or []) if c.system == codes.LOINC]
    kind = next((codes_of[code] for code in loinc if code in codes_of), None)
    if kind is None or kind == "imc":
        raise Refusal(422, "Type de mesure non pris en charge (code LOINC).")
    data = {"kind": kind, "comment": (resource.note[0].text if resource.note else "")[:150]}
    if kind == "tension":
        parts = {}
        for component in resource.component or []:
            for coding in component.code.coding or []:
                if component.valueQuantity is not None:
                    parts[coding.code] = component.valueQuantity.value
        data["value"] = str(parts.get(codes.SYSTOLIC.code, ""))
        data["value2"] = str(parts.get(codes.DIASTOLIC.code, ""))
    else:
        quantity = resource.valueQuantity
        if quantity is None or quantity.value is None:
            raise Refusal(422, "La valeur se transmet dans valueQuantity.")
        data["value"] = str(quantity.value)
        if kind == "glycemie":
            unit = (quantity.code or quantity.unit or "").replace("mmol/l", "mmol/L")
            data["glucose_unit"] = "mmol/L" if unit == "mmol/L" else "g/L"
    if resource.effectiveDateTime is not None:
        if not isinstance(resource.effectiveDateTime, datetime):
            raise Refusal(422, "effectiveDateTime : une date et une heure, avec le fuseau.")
        data["taken_at"] = _local(resource.effectiveDateTime)
    form = MeasurementForm(data)
    if not form.is_valid():
        problems = [" ".join(errors) for errors in form.errors.values()]
        raise Refusal(422, "Mesure refusée. " + " ".join(problems))
    return entry_create(
        actor=AppActor(caller), space=caller.space, model=Measurement, values=form.model_values()
    )


def _appointment_data(resource):
    from carnet.agenda.services import AppointmentData

    if resource.start is None:
        raise Refusal(422, "Le rendez-vous a une date de début (start).")
    place = ""
    professional_name = ""
    for participant in resource.participant or []:
        actor = participant.actor
        if actor is None or not actor.display:
            continue
        if (actor.reference or "").startswith("Location") or actor.type == "Location":
            place = actor.display
        elif not (actor.reference or "").startswith("Patient"):
            professional_name = professional_name or actor.display
    return AppointmentData(
        starts_at=resource.start,
        ends_at=resource.end,
        title=(resource.description or "")[:200],
        professional_name=professional_name,
        place=place,
        notes=(resource.comment or "")[:1000],
    )


def _app_uid(caller: Caller) -> str:
    from carnet.catalogue.services import app_actor

    return app_actor(caller.app)


def appointment_create(caller: Caller, raw: bytes):
    """A booking service adds an appointment: read-only for the person afterwards."""
    from fhir.resources.R4B.appointment import Appointment as FhirAppointment

    from carnet.agenda.models import Appointment
    from carnet.agenda.services import AgendaError, appointment_add

    _patient_app(caller, "Appointment", "c")
    resource = parse(raw, FhirAppointment)
    patients = [p.actor for p in resource.participant or [] if p.actor is not None]
    if not any((a.reference or "") == f"Patient/{caller.space.public_id}" for a in patients):
        raise Refusal(422, "Un participant doit être le profil connecté (Patient/<id>).")
    if resource.status in ("cancelled", "noshow", "entered-in-error"):
        raise Refusal(422, "Un rendez-vous se crée avec le statut booked ou proposed.")
    try:
        return appointment_add(
            user=AppActor(caller),
            space=caller.space,
            data=_appointment_data(resource),
            source=Appointment.Source.SERVICE,
            source_name=caller.app.name[:100],
            external_uid=f"{_app_uid(caller)}/{uuid.uuid4()}",
            client=caller.client,
        )
    except (AgendaError, DjangoValidationError) as exc:
        raise Refusal(422, "Rendez-vous refusé. " + _messages(exc)) from None


def _messages(exc) -> str:
    return " ".join(getattr(exc, "messages", None) or [str(exc)])


def own_appointment(caller: Caller, resource_id: str):
    """An appointment this app added (its UIDs carry the app's id), still live."""
    from carnet.agenda.models import Appointment

    row = Appointment.objects.filter(
        space=caller.space,
        deleted_at__isnull=True,
        source=Appointment.Source.SERVICE,
        external_uid__startswith=f"{_app_uid(caller)}/",
        public_id=_uuid(resource_id),
    ).first()
    if row is None:
        raise Refusal(404, "Ressource introuvable.", "not-found")
    return row


def _uuid(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Refusal(404, "Ressource introuvable.", "not-found") from None


def appointment_update(caller: Caller, resource_id: str, raw: bytes):
    """The booking service changes its appointment, or cancels it (status cancelled)."""
    from fhir.resources.R4B.appointment import Appointment as FhirAppointment

    from carnet.agenda.services import AgendaError, appointment_delete
    from carnet.agenda.services import appointment_update as agenda_update

    resource = parse(raw, FhirAppointment)
    cancelling = resource.status == "cancelled"
    _patient_app(caller, "Appointment", "d" if cancelling else "u")
    row = own_appointment(caller, resource_id)
    if resource.id is not None and resource.id != resource_id:
        raise Refusal(400, "L'id de la ressource ne correspond pas à l'adresse.")
    try:
        if cancelling:
            appointment_delete(
                user=AppActor(caller), appointment=row, client=caller.client, by_source=True
            )
            row.refresh_from_db()
            return row
        return agenda_update(
            user=AppActor(caller),
            appointment=row,
            data=_appointment_data(resource),
            client=caller.client,
            by_source=True,
        )
    except (AgendaError, DjangoValidationError) as exc:
        raise Refusal(422, "Rendez-vous refusé. " + _messages(exc)) from None
