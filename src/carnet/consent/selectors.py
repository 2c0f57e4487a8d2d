"""What the patient sees of their own decisions: the professionals related to their space
(authorised, médecin traitant, blocked, emergency access) and their emergency switches.

Only the owner of an active space reads these (`owned_active_space`); a professional is always
looked up among the ones related to that space, never in the whole directory.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max
from django.http import Http404

from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user
from carnet.professionals.models import Professional

from .models import Authorisation, Block, EmergencyAccess, EmergencySettings, TreatingDoctor


def owned_active_space(user) -> Space:
    """The space whose access settings `user` may manage: their own, active (404 otherwise)."""
    space = space_for_user(user)
    if space is None or space.state != Space.State.ACTIVE:
        raise Http404
    return space


@dataclass(frozen=True)
class RelatedProfessional:
    professional: Professional
    treating: bool
    blocked: bool
    authorised: bool
    administrator: bool
    attested_at: datetime | None
    last_access_at: datetime | None
    blocked_at: datetime | None
    last_emergency_at: datetime | None

    @property
    def may_be_treating(self) -> bool:
        return self.professional.profession == Professional.Profession.MEDECIN and not self.treating


def related_professionals(space: Space) -> list[RelatedProfessional]:
    """Every professional related to `space`: authorised, médecin traitant, blocked, or with an
    emergency access (past or live). Five queries, whatever their number. The médecin traitant
    first, then by name."""
    authorisations = {
        a.professional_id: a
        for a in Authorisation.objects.filter(space=space).only(
            "professional_id", "administrator", "attested_at", "last_access_at"
        )
    }
    treating_id = (
        TreatingDoctor.objects.filter(space=space).values_list("professional_id", flat=True).first()
    )
    blocks = dict(Block.objects.filter(space=space).values_list("professional_id", "blocked_at"))
    emergencies = dict(
        EmergencyAccess.objects.filter(space=space)
        .values("professional_id")
        .annotate(last=Max("started_at"))
        .values_list("professional_id", "last")
    )
    ids = set(authorisations) | set(blocks) | set(emergencies)
    if treating_id is not None:
        ids.add(treating_id)
    if not ids:
        return []
    rows = []
    for professional in Professional.objects.filter(pk__in=ids):
        pk = professional.pk
        authorisation = authorisations.get(pk)
        treating = pk == treating_id
        rows.append(
            RelatedProfessional(
                professional=professional,
                treating=treating,
                # The médecin traitant cannot be blocked (rules.professional_facts agrees).
                blocked=pk in blocks and not treating,
                authorised=authorisation is not None,
                administrator=bool(authorisation and authorisation.administrator),
                attested_at=authorisation.attested_at if authorisation else None,
                last_access_at=authorisation.last_access_at if authorisation else None,
                blocked_at=blocks.get(pk),
                last_emergency_at=emergencies.get(pk),
            )
        )
    rows.sort(
        key=lambda r: (
            not r.treating,
            r.professional.last_name.casefold(),
            r.professional.first_name.casefold(),
            r.professional.pk,
        )
    )
    return rows


def related_professional(space: Space, public_id) -> RelatedProfessional:
    """One professional related to `space`, by public id; 404 for any other, whether it exists
    in the directory or not (no probing of the directory)."""
    for row in related_professionals(space):
        if str(row.professional.public_id) == str(public_id):
            return row
    raise Http404


def emergency_settings(space: Space) -> EmergencySettings:
    """The patient's three switches; the defaults when they never changed them."""
    return EmergencySettings.objects.filter(space=space).first() or EmergencySettings(space=space)
