"""`decide(actor, space, action, obj)`: the one door to a person's space for anyone but its
owner (DESIGN invariant 1). Each rule is one step below, in the order of the issue; whatever
no rule allows is denied, and callers answer a denial with the same 404 as a missing object.

The facts about one professional and one space (authorisation, colleague, block, médecin
traitant, administrateur, emergency) are read by `professional_facts` in one query (two while
an emergency access is live), whatever the number of professionals, documents or events of the
space.
"""

import functools
from dataclasses import dataclass

from django.db import connection
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
    categories: frozenset = frozenset()  # what the matrix lets the profession read (rule 3)

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


@functools.cache
def _facts_sql(vendor: str) -> str:
    """The one statement of `professional_facts`, its names taken from the models. Written out
    rather than built by the ORM: the database answers it in microseconds, and composing nine
    subqueries through the ORM cost a millisecond and more on every request."""
    quote = connection.ops.quote_name

    def table(model) -> str:
        return quote(model._meta.db_table)

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    def mine(model) -> str:
        return f"{column(model, 'space')} = %s AND {column(model, 'professional')} = %s"

    from carnet.professionals.models import Professional

    a, e, s, m = Authorisation, EmergencyAccess, EmergencySettings, CategoryAccess
    # The profession's readable categories as one string (rule 3), read with the rest.
    aggregate = "STRING_AGG({}, ',')" if vendor == "postgresql" else "GROUP_CONCAT({}, ',')"
    categories = aggregate.format(column(m, "category"))
    return (
        "SELECT "  # noqa: S608 (names from the models, values as parameters)
        f"EXISTS (SELECT 1 FROM {table(TreatingDoctor)} WHERE {mine(TreatingDoctor)}), "
        f"EXISTS (SELECT 1 FROM {table(Block)} WHERE {mine(Block)}), "
        # NULL without an authorisation, else its "administrateur" flag.
        f"(SELECT {column(a, 'administrator')} FROM {table(a)} WHERE {mine(a)} LIMIT 1), "
        # A care-team colleague of the same establishment (never for a NULL FINESS).
        f"EXISTS (SELECT 1 FROM {table(a)} ca INNER JOIN {table(Professional)} cp "
        f"ON cp.{column(Professional, 'id')} = ca.{column(a, 'professional')} "
        f"WHERE ca.{column(a, 'space')} = %s AND cp.{column(Professional, 'finess')} = %s), "
        f"(SELECT {column(e, 'id')} FROM {table(e)} WHERE {mine(e)} "
        f"AND {column(e, 'expires_at')} > %s ORDER BY {column(e, 'expires_at')} DESC LIMIT 1), "
        f"es.{column(s, 'id')}, es.{column(s, 'samu_allowed')}, "
        f"es.{column(s, 'emergency_allowed')}, es.{column(s, 'hidden_visible')}, "
        f"(SELECT {categories} FROM {table(m)} WHERE {column(m, 'profession')} = %s "
        f"AND {column(m, 'allowed')}) "
        f"FROM (SELECT 1 AS one) AS here LEFT JOIN {table(s)} es "
        f"ON es.{column(s, 'space')} = %s"
    )


def professional_facts(space: Space, professional) -> Facts:
    """The facts in one query (a second one only while an emergency access is live), each fact
    a subquery served by a unique constraint or an index, whatever the number of professionals,
    documents or events of the space."""
    now = connection.ops.adapt_datetimefield_value(clock.now())
    pair = (space.pk, professional.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            _facts_sql(connection.vendor),
            [
                *pair,
                *pair,
                *pair,
                space.pk,
                professional.finess or None,
                *pair,
                now,
                professional.profession,
                space.pk,
            ],
        )
        treating, blocked, admin, team, emergency_id, *switches, categories = cursor.fetchone()
    treating, authorised = bool(treating), admin is not None
    emergency = None
    if emergency_id is not None:
        emergency = EmergencyAccess.objects.filter(pk=emergency_id).first()
    settings_id, samu, others, hidden = switches
    if settings_id is None:
        settings = EmergencySettings(space=space)  # the defaults of the real service
    else:
        settings = EmergencySettings(
            pk=settings_id,
            space=space,
            samu_allowed=bool(samu),
            emergency_allowed=bool(others),
            hidden_visible=bool(hidden),
        )
    return Facts(
        professional=professional,
        treating=treating,
        blocked=bool(blocked) and not treating,  # the médecin traitant cannot be blocked
        authorised=authorised,
        colleague=not authorised and bool(team),
        administrator=bool(admin),
        emergency=emergency,
        settings=settings,
        categories=frozenset(categories.split(",")) if categories else frozenset(),
    )


def readable_categories(profession: str) -> set[str]:
    return set(
        CategoryAccess.objects.filter(profession=profession, allowed=True).values_list(
            "category", flat=True
        )
    )


def visible_documents_q(facts: Facts, categories=None) -> Q:
    """The documents this professional may see in the list and open: the query form of
    `document_visible`, the two kept equal by a property test."""
    q = Q(category__in=facts.categories if categories is None else categories)
    if not facts.sees_hidden:
        q &= Q(hidden=False)
    user_id = facts.professional.user_id
    if user_id is None:  # never `author IS NULL`: that would open orphaned documents
        return q
    # The author always sees what they added, whatever the matrix or the hidden flag say.
    return q | Q(author_id=user_id)


def document_visible(facts: Facts, doc, space: Space) -> bool:
    """`visible_documents_q` for one document already read (no query): a live document of this
    space (never one of another space through this one) that the matrix, the hidden flag or
    its authorship lets this professional see."""
    if doc.space_id != space.pk or doc.deleted_at is not None:
        return False
    user_id = facts.professional.user_id
    if user_id is not None and doc.author_id == user_id:
        return True
    return doc.category in facts.categories and (facts.sees_hidden or not doc.hidden)


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
        if not document_visible(facts, obj, space):
            return deny(HIDDEN if obj.hidden and obj.category in facts.categories else PROFESSION)
    if action == Action.SYNTHESIS_READ and "SYNTH_PML" not in facts.categories:
        return deny(PROFESSION)
    # An emergency access is for reading the record, not for planning the patient's care.
    if action == Action.APPOINTMENT_ADD and basis == EMERGENCY:
        return deny(NO_CONSENT)
    return allow(basis)
