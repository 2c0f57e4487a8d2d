"""`decide(actor, space, action, obj)`: the one door to a person's space for anyone but its
owner (DESIGN invariant 1). Each rule is one step below, in the order of the issue; whatever
no rule allows is denied, and callers answer a denial with the same 404 as a missing object.

The facts about one professional and one space (authorisation, colleague, block, médecin
traitant, administrateur, emergency) are read in a constant number of queries (`_facts`),
whatever the number of professionals, documents or events of the space.
"""

from dataclasses import dataclass

from django.db.models import Q

from carnet.core import clock
from carnet.enrollment.models import Space

from .models import (
    Action,
    Authorisation,
    Block,
    CategoryAccess,
    EmergencyAccess,
    EmergencySettings,
    TreatingDoctor,
)

# Reasons, as written to the trail and tested.
OWNER = "titulaire"
INACTIVE_SPACE = "espace_inactif"
NOT_A_PROFESSIONAL = "non_professionnel"
BLOCKED = "bloque"
NO_CONSENT = "sans_autorisation"
PROFESSION = "profession"
HIDDEN = "masque"
EMERGENCY_REFUSED = "urgence_refusee"
TREATING = "medecin_traitant"
AUTHORISED = "autorise"
COLLEAGUE = "equipe"
EMERGENCY = "urgence"
FEED = "alimentation"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def allow(reason: str) -> Decision:
    return Decision(True, reason)


def deny(reason: str) -> Decision:
    return Decision(False, reason)


@dataclass(frozen=True)
class Facts:
    """What the patient decided about this professional (read once per request)."""

    professional: object
    treating: bool
    blocked: bool
    authorised: bool
    colleague: bool
    administrator: bool
    emergency: object  # the live EmergencyAccess, or None
    settings: EmergencySettings

    @property
    def basis(self) -> str | None:
        """Why this professional may act at all, the strongest reason first."""
        if self.treating:
            return TREATING
        if self.authorised:
            return AUTHORISED
        if self.colleague:
            return COLLEAGUE
        if self.emergency is not None:
            return EMERGENCY
        return None

    @property
    def sees_hidden(self) -> bool:
        if self.treating or self.administrator:
            return True
        # A live emergency opens hidden documents when the patient allowed it, whatever else
        # the professional has (an authorised professional who breaks the glass included).
        return self.emergency is not None and self.settings.hidden_visible


def professional_facts(space: Space, professional) -> Facts:
    now = clock.now()
    treating = TreatingDoctor.objects.filter(space=space, professional=professional).exists()
    blocked = Block.objects.filter(space=space, professional=professional).exists()
    own = Authorisation.objects.filter(space=space, professional=professional).first()
    colleague = False
    if own is None and professional.finess:
        # A care-team colleague of the same establishment is covered by that consent.
        colleague = Authorisation.objects.filter(
            space=space, professional__finess=professional.finess
        ).exists()
    emergency = (
        EmergencyAccess.objects.filter(space=space, professional=professional, expires_at__gt=now)
        .order_by("-expires_at")
        .first()
    )
    settings = EmergencySettings.objects.filter(space=space).first() or EmergencySettings(
        space=space
    )
    return Facts(
        professional=professional,
        treating=treating,
        blocked=blocked and not treating,  # the médecin traitant cannot be blocked
        authorised=own is not None,
        colleague=colleague,
        administrator=bool(own and own.administrator),
        emergency=emergency,
        settings=settings,
    )


def readable_categories(profession: str) -> set[str]:
    return set(
        CategoryAccess.objects.filter(profession=profession, allowed=True).values_list(
            "category", flat=True
        )
    )


def visible_documents_q(facts: Facts, categories: set[str]) -> Q:
    """The documents this professional may see in the list and open (one predicate for both)."""
    q = Q(category__in=categories)
    if not facts.sees_hidden:
        q &= Q(hidden=False)
    user_id = facts.professional.user_id
    if user_id is None:  # never `author IS NULL`: that would open orphaned documents
        return q
    # The author always sees what they added, whatever the matrix or the hidden flag say.
    return q | Q(author_id=user_id)


def _professional_of(actor):
    from carnet.professionals.models import Professional

    return Professional.objects.filter(user=actor).first()


def decide(actor, space: Space, action: str, obj=None, *, facts: Facts | None = None) -> Decision:
    """Allow or deny `actor` doing `action` on `space` (and `obj`, a document for DOCUMENT_READ).
    Pure: it writes nothing; `consent.services.access` audits what it allows."""
    # 1. Only an active space is open; a pending one can receive documents.
    if space.state != Space.State.ACTIVE and not (
        action == Action.DOCUMENT_ADD and space.state == Space.State.PENDING
    ):
        return deny(INACTIVE_SPACE)
    # The owner (legal representatives come with linked profiles).
    if getattr(actor, "person_id", None) and actor.person_id == space.person_id:
        return allow(OWNER)
    if getattr(actor, "kind", "") != "professionnel":
        return deny(NOT_A_PROFESSIONAL)
    if facts is None:
        professional = _professional_of(actor)
        if professional is None:
            return deny(NOT_A_PROFESSIONAL)
        facts = professional_facts(space, professional)
    # 4. A blocked professional can do nothing.
    if facts.blocked:
        return deny(BLOCKED)
    # 1 (continued). A pending space is fed before anyone could consent: the person finds the
    # documents, and who added them, when they activate (DOCUMENT_ADD is the only action here).
    if space.state == Space.State.PENDING:
        return allow(FEED)
    # 6. Emergency access, unless the patient opposed it.
    if action == Action.EMERGENCY:
        kind = obj or EmergencyAccess.Kind.OTHER
        if kind == EmergencyAccess.Kind.SAMU:
            switch = facts.settings.samu_allowed
        else:
            switch = facts.settings.emergency_allowed
        return allow(EMERGENCY) if switch else deny(EMERGENCY_REFUSED)
    # 2. Consent (attested), the care team, the médecin traitant, or a live emergency.
    basis = facts.basis
    if basis is None:
        return deny(NO_CONSENT)
    if action == Action.DOCUMENT_READ:
        # 3 and 5: the matrix of the profession, and hidden documents.
        categories = readable_categories(facts.professional.profession)
        from carnet.documents.models import Document

        visible = Document.objects.filter(
            # space=space: a document of another space is never read through this one.
            visible_documents_q(facts, categories),
            pk=obj.pk,
            space=space,
            deleted_at__isnull=True,
        ).exists()
        if not visible:
            return deny(HIDDEN if obj.hidden and obj.category in categories else PROFESSION)
    if action == Action.SYNTHESIS_READ:
        if "SYNTH_PML" not in readable_categories(facts.professional.profession):
            return deny(PROFESSION)
    return allow(basis)
