"""What the patient sees of their own decisions: the professionals related to their space and
their emergency switches.

A professional is related to a space when they accessed it (an event of the space's trail whose
actor is their account) or when they are, or were, linked to it: authorised, médecin traitant
(current or former), blocked (now or before), administrateur, or with an emergency access (past
or live). A former médecin traitant stays on the list: the patient may want to block them.

Only the owner of an active space reads these (`owned_active_space`); a professional is always
looked up among the ones related to that space, never in the whole directory.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import F, Max, Q
from django.http import Http404

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user
from carnet.professionals.models import Professional

from .models import Authorisation, Block, EmergencyAccess, EmergencySettings, TreatingDoctor

# An account's actor in the trail is "<kind>:<account public id>" (accounts.User.actor).
PROFESSIONAL_ACTOR = f"{User.Kind.PROFESSIONAL.value}:"
# The patient's decisions about a professional, each audited with the professional's public id
# as object (consent.services): they keep a professional on the list once the row is gone.
LINK_ACTIONS = (
    "medecin_traitant_designe",
    "professionnel_bloque",
    "professionnel_debloque",
    "administrateur_donne",
    "administrateur_retire",
)
TREATING_DESIGNATED = "medecin_traitant_designe"


def owned_active_space(user) -> Space:
    """The space whose access settings `user` may manage: their own, or one they manage as a
    legal representative or guardian, active (404 otherwise; a caregiver's too)."""
    from carnet.family.selectors import manages_sharing

    space = space_for_user(user)
    if space is None or space.state != Space.State.ACTIVE or not manages_sharing(user, space):
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
    # The latest of: the professional's last event in the space's trail, the start of their
    # last emergency access. None: they never accessed the record.
    last_access_at: datetime | None
    blocked_at: datetime | None
    last_emergency_at: datetime | None
    former_treating: bool = False  # was designated médecin traitant, another one is now

    @property
    def may_be_treating(self) -> bool:
        return self.professional.profession == Professional.Profession.MEDECIN and not self.treating


def _directory():
    """Directory entries with the public id of their account (the actor of their events)."""
    return Professional.objects.annotate(account_public_id=F("user__public_id"))


def _uuid(value) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _last_accesses(space: Space, professional=None) -> dict[UUID, datetime]:
    """The date of the last event of each professional account in the space's trail, by the
    account's public id. One query (two when results are withheld), served by the index
    `audit_event_space_at_idx` (the space's events), whatever the number of professionals.

    The events about a result still withheld from the patient are left out, as in their history
    (access rules, 9): they would tell that a document is waiting."""
    from carnet.documents.selectors import unsaid_document_ids

    events = Event.objects.filter(space_id=space.public_id)
    if professional is None:
        events = events.filter(actor__startswith=PROFESSIONAL_ACTOR)
    elif professional.account_public_id is None:
        return {}
    else:
        events = events.filter(actor=f"{PROFESSIONAL_ACTOR}{professional.account_public_id}")
    withheld = unsaid_document_ids(space)
    if withheld:
        events = events.exclude(object_type="document", object_id__in=withheld)
    found = {}
    rows = events.order_by().values("actor").annotate(last=Max("at")).values_list("actor", "last")
    for actor, last in rows:
        account = _uuid(actor.removeprefix(PROFESSIONAL_ACTOR))
        if account is not None:
            found[account] = last
    return found


def _links(space: Space, professional=None) -> dict[UUID, set[str]]:
    """What the patient ever decided about each professional (LINK_ACTIONS), by the
    professional's public id. One query, served by `audit_event_space_type_idx`."""
    events = Event.objects.filter(
        space_id=space.public_id, object_type="professionnel", action__in=LINK_ACTIONS
    )
    if professional is not None:
        events = events.filter(object_id=str(professional.public_id))
    found: dict[UUID, set[str]] = {}
    for object_id, action in events.order_by().values_list("object_id", "action").distinct():
        public_id = _uuid(object_id)
        if public_id is not None:
            found.setdefault(public_id, set()).add(action)
    return found


def _related(space: Space, professional=None) -> list[RelatedProfessional]:
    """The professionals related to `space` (or only `professional`, if related): eight
    queries at most, whatever their number."""

    def scoped(queryset):
        queryset = queryset.filter(space=space)
        return queryset if professional is None else queryset.filter(professional=professional)

    authorisations = {
        a.professional_id: a
        for a in scoped(Authorisation.objects).only(
            "professional_id", "administrator", "attested_at", "last_access_at"
        )
    }
    treating_id = (
        TreatingDoctor.objects.filter(space=space).values_list("professional_id", flat=True).first()
    )
    blocks = dict(scoped(Block.objects).values_list("professional_id", "blocked_at"))
    emergencies = dict(
        scoped(EmergencyAccess.objects)
        .order_by()
        .values("professional_id")
        .annotate(last=Max("started_at"))
        .values_list("professional_id", "last")
    )
    accesses = _last_accesses(space, professional)
    links = _links(space, professional)

    ids = set(authorisations) | set(blocks) | set(emergencies)
    if treating_id is not None:
        ids.add(treating_id)
    if professional is not None:
        related = (
            professional.pk in ids
            or professional.account_public_id in accesses
            or professional.public_id in links
        )
        candidates = [professional] if related else []
    elif ids or accesses or links:
        # One table in the condition (the accounts by a subquery): each branch of the OR is
        # an index lookup; a condition across the join would scan the whole directory.
        accounts = User.objects.filter(public_id__in=list(accesses)).values("pk")
        candidates = (
            _directory()
            .filter(Q(pk__in=ids) | Q(user__in=accounts) | Q(public_id__in=list(links)))
            .order_by()
        )
    else:
        candidates = []

    rows = []
    for pro in candidates:
        pk = pro.pk
        authorisation = authorisations.get(pk)
        treating = pk == treating_id
        last_emergency_at = emergencies.get(pk)
        seen = [
            accesses.get(pro.account_public_id) if pro.account_public_id else None,
            authorisation.last_access_at if authorisation else None,
            last_emergency_at,
        ]
        seen = [at for at in seen if at is not None]
        rows.append(
            RelatedProfessional(
                professional=pro,
                treating=treating,
                # The médecin traitant cannot be blocked (rules.professional_facts agrees).
                blocked=pk in blocks and not treating,
                authorised=authorisation is not None,
                administrator=bool(authorisation and authorisation.administrator),
                attested_at=authorisation.attested_at if authorisation else None,
                last_access_at=max(seen) if seen else None,
                blocked_at=blocks.get(pk),
                last_emergency_at=last_emergency_at,
                former_treating=not treating
                and TREATING_DESIGNATED in links.get(pro.public_id, ()),
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


def related_professionals(space: Space) -> list[RelatedProfessional]:
    """Every professional related to `space` (see the module's docstring), each with their
    profession and last access: eight queries at most, whatever their number. The médecin
    traitant first, then by name."""
    return _related(space)


def related_professional(space: Space, public_id) -> RelatedProfessional:
    """One professional related to `space`, by public id; 404 for any other, whether it exists
    in the directory or not (no probing of the directory)."""
    professional = _directory().filter(public_id=public_id).first()
    if professional is None:
        raise Http404
    rows = _related(space, professional)
    if not rows:
        raise Http404
    return rows[0]


def treating_doctor(space: Space) -> Professional | None:
    """The current médecin traitant of `space`, if any."""
    found = TreatingDoctor.objects.filter(space=space).select_related("professional").first()
    return found.professional if found is not None else None


def emergency_settings(space: Space) -> EmergencySettings:
    """The patient's three switches; the defaults when they never changed them."""
    return EmergencySettings.objects.filter(space=space).first() or EmergencySettings(space=space)
