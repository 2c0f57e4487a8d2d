"""What each FHIR resource type is in Carnet: its rows for the connected profile, its mapper,
its search parameters. The CapabilityStatement is written from this registry, so it lists
exactly what is implemented."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import QuerySet

from carnet.documents.selectors import live_documents
from carnet.enrollment.models import Space

from . import mappers
from .http import Caller, Refusal

# $summary reads these: an app needs read access to each of them.
SUMMARY_NEEDS = (
    "Patient",
    "Condition",
    "Procedure",
    "MedicationStatement",
    "AllergyIntolerance",
    "Immunization",
    "Observation",
)


@dataclass(frozen=True)
class Kind:
    name: str
    rows: Callable[[Space], QuerySet | list]  # the profile's live rows, for its owner's app
    map: Callable
    date_field: str = ""  # searched by `date`, sorted by `_sort=date`
    params: dict[str, Callable] = field(default_factory=dict)  # other search parameters
    # How a row is found by its FHIR id (default: its public_id).
    find: Callable[[QuerySet, str], object] | None = None

    def get(self, caller: Caller, resource_id: str):
        if caller.space is None:
            raise Refusal(403, "Ce logiciel ne lit pas les données des patients.", "forbidden")
        if self.name == "Patient":
            if resource_id != str(caller.space.public_id):
                raise Refusal(404, "Ressource introuvable.", "not-found")
            return caller.space
        rows = self.rows(caller.space)
        obj = self.find(rows, resource_id) if self.find else _by_public_id(rows, resource_id)
        if obj is None:
            raise Refusal(404, "Ressource introuvable.", "not-found")
        return obj


def _by_public_id(rows: QuerySet, resource_id: str):
    try:
        key = uuid.UUID(resource_id)
    except ValueError:
        return None
    return rows.filter(public_id=key).first()


def _event_by_id(rows: QuerySet, resource_id: str):
    chain, _, seq = resource_id.rpartition(".")
    if not chain or not seq.isdigit():
        return None
    return rows.filter(chain=chain, seq=int(seq)).first()


def _entries(model_path: str) -> Callable[[Space], QuerySet]:
    def rows(space: Space) -> QuerySet:
        from django.apps import apps

        model = apps.get_model(model_path)
        return model.objects.filter(space=space, deleted_at__isnull=True)

    return rows


def _category(rows: QuerySet, value: str) -> QuerySet:
    return rows.filter(category__in=[v.rsplit("|", 1)[-1] for v in value.split(",")])


def _observation_category(rows: QuerySet, value: str) -> QuerySet:
    wanted = {v.rsplit("|", 1)[-1] for v in value.split(",")}
    kinds = [
        kind for kind, category in mappers.observation_categories().items() if category in wanted
    ]
    return rows.filter(kind__in=kinds)


def _observation_code(rows: QuerySet, value: str) -> QuerySet:
    wanted = {v.rsplit("|", 1)[-1] for v in value.split(",")}
    kinds = [kind for kind, code in mappers.observation_codes().items() if code in wanted]
    return rows.filter(kind__in=kinds)


def _consent_by_id(rows: list, resource_id: str):
    return next((consent for consent in rows if consent.id == resource_id), None)


def _as_is(resource):
    return resource


def _patient_rows(space: Space) -> QuerySet:
    return Space.objects.filter(pk=space.pk)


def _documents(space: Space) -> QuerySet:
    return live_documents(space).select_related("blob", "space")


def _messages(space: Space) -> QuerySet:
    from carnet.messaging.models import Message

    return Message.objects.filter(
        conversation__space=space, conversation__deleted_at__isnull=True
    ).select_related("body", "conversation__space", "conversation__professional")


def _consents(space: Space) -> list:
    """The person's decisions as FHIR Consents: authorisations (permit), blocks (deny)."""
    return mappers.consents(space)


def _trail(space: Space) -> QuerySet:
    from carnet.audit.selectors import space_trail

    return space_trail(space)


KINDS = {
    kind.name: kind
    for kind in [
        Kind("Patient", _patient_rows, mappers.patient),
        Kind(
            "DocumentReference",
            _documents,
            mappers.document_reference,
            date_field="document_date",
            params={"category": _category},
        ),
        Kind("Condition", _entries("profile.Condition"), mappers.condition),
        Kind("MedicationStatement", _entries("profile.Treatment"), mappers.medication_statement),
        Kind("Procedure", _entries("profile.Hospitalisation"), mappers.procedure),
        Kind(
            "FamilyMemberHistory", _entries("profile.FamilyHistory"), mappers.family_member_history
        ),
        Kind("AllergyIntolerance", _entries("profile.Allergy"), mappers.allergy_intolerance),
        Kind("Immunization", _entries("profile.Vaccination"), mappers.immunization, "date"),
        Kind(
            "Observation",
            _entries("profile.Measurement"),
            mappers.observation,
            date_field="taken_at",
            params={"category": _observation_category, "code": _observation_code},
        ),
        Kind("Appointment", _entries("agenda.Appointment"), mappers.appointment, "starts_at"),
        Kind("Communication", _messages, mappers.communication, "sent_at"),
        Kind("Consent", _consents, _as_is, find=_consent_by_id),  # a list, already FHIR
        Kind("AuditEvent", _trail, mappers.audit_event, "at", find=_event_by_id),
    ]
}


def kind(resource_type: str) -> Kind:
    found = KINDS.get(resource_type)
    if found is None:
        raise Refusal(404, f"Type de ressource non pris en charge : {resource_type[:40]}")
    return found
