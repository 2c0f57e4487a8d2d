"""Adults under a legal protection measure (issue 9): an operator registers the tutelle or the
curatelle the judge pronounced, and the guardian manages the adult's space as a parent manages
a child's, until the measure's end date. The protected person keeps their own login, if they
have one, and reads the guardian's actions in their own trail.

Registered from the command line (`carnet add_guardian`), never by the guardian themselves.
Every change is audited in the adult's space, with the operator as the actor: ids and facts
only, never a name.

A pending space (the person has not yet decided, automatic creation still to come) is refused:
a link only ever gives access to an active space, and the choice to activate or to oppose
belongs to the person and the insurer's procedure, not to this command. The operator is told
the date of the automatic creation and registers the measure once the space is active.
"""

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from carnet.audit.services import Entry, events_record
from carnet.core import clock
from carnet.core.validators import parse_nir

from .models import Link
from .services import FamilyError

KINDS = {"tutelle": Link.Kind.TUTELLE, "curatelle": Link.Kind.CURATELLE}
# A measure is pronounced for 5 years at most, 10 exceptionally, and renewed for 20 years at
# most (Code civil, art. 441 and 442): a later end date is a typing error.
MEASURE_MAX_YEARS = 20
ENDED_REASON = "fin_de_mesure"

ADDED, CHANGED, UNCHANGED = "creation", "modification", "aucune"


class ProtectionError(FamilyError):
    """A refusal of the operator's request, its message in French."""


def _nir(value: str, role: str) -> str:
    try:
        return parse_nir((value or "").strip())
    except ValidationError as exc:
        raise ProtectionError(f"{role} : {exc.messages[0]}") from None


def _person(nir: str, role: str):
    from carnet.registry.models import InsuredPerson

    person = InsuredPerson.objects.filter(nir=nir).first()
    if person is None:
        raise ProtectionError(f"{role} : aucun assuré ne porte ce NIR dans le registre.")
    return person


def _kind(value: str) -> str:
    kind = KINDS.get((value or "").strip().lower())
    if kind is None:
        raise ProtectionError(
            f"Mesure inconnue « {value} » : indiquez « tutelle » ou « curatelle »."
        )
    return kind


def _until(value, today: date) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        raise ProtectionError("Indiquez la date de fin de la mesure.")
    if value <= today:
        raise ProtectionError(
            f"La date de fin de la mesure ({value:%d/%m/%Y}) doit être postérieure à "
            f"aujourd'hui ({today:%d/%m/%Y})."
        )
    try:
        latest = today.replace(year=today.year + MEASURE_MAX_YEARS)
    except ValueError:  # 29 February
        latest = date(today.year + MEASURE_MAX_YEARS, 3, 1)
    if value > latest:
        raise ProtectionError(
            f"La date de fin de la mesure ({value:%d/%m/%Y}) dépasse la durée maximale d'une "
            f"mesure de protection ({MEASURE_MAX_YEARS} ans) : vérifiez-la."
        )
    return value


def _space_refusal(space) -> str:
    from carnet.enrollment.models import Space

    State = Space.State
    if space is None:
        return (
            "La personne protégée n'a pas encore d'espace santé (aucun code provisoire émis) : "
            "la mesure ne peut être enregistrée que sur un espace actif."
        )
    if space.state == State.PENDING:
        when = (
            f" ; sa création automatique est prévue le {clock.localdate_fr(space.auto_activate_at)}"
            " si la personne ne s'y oppose pas"
            if space.auto_activate_at
            else ""
        )
        return (
            "L'espace santé de la personne protégée est en attente de sa décision (activation "
            f"ou opposition){when}. La mesure ne peut être enregistrée que sur un espace actif : "
            "relancez la commande une fois l'espace activé. Rien n'a été enregistré."
        )
    if space.state == State.OPPOSED:
        return (
            "La personne protégée s'est opposée à la création de son espace santé : aucune "
            "mesure ne peut y être rattachée."
        )
    return (
        f"L'espace santé de la personne protégée n'est pas actif "
        f"({space.get_state_display().lower()}) : aucune mesure ne peut y être rattachée."
    )


def _audit(actor: str, space, action: str, link: Link, **detail) -> None:
    events_record(
        [
            Entry(
                actor=actor,
                action=action,
                space_id=space.public_id,
                object_type="link",
                object_id=str(link.public_id),
                detail=detail,
            )
        ]
    )


def protection_measure_add(*, adult_nir: str, guardian_nir: str, kind: str, until, actor: str):
    """Register (or update) a tutelle or curatelle: the guardian's account manages the adult's
    space until `until` (included). Returns the link; its `outcome` says what was done:
    ADDED, CHANGED (the open link of that account to that space took the new kind and end
    date) or UNCHANGED (the same measure was already registered: nothing written)."""
    from carnet.accounts.models import User
    from carnet.enrollment.models import Space
    from carnet.enrollment.services import is_minor

    today = clock.today()
    # All of the input first: bad input changes nothing.
    kind = _kind(kind)
    until = _until(until, today)
    adult_nir = _nir(adult_nir, "Personne protégée")
    guardian_nir = _nir(guardian_nir, "Tuteur ou curateur")
    if adult_nir == guardian_nir:
        raise ProtectionError("Le tuteur ou curateur ne peut pas être la personne protégée.")
    adult = _person(adult_nir, "Personne protégée")
    if is_minor(adult, today):
        raise ProtectionError(
            "La personne protégée est mineure : une mesure de tutelle ou de curatelle ne "
            "concerne que les majeurs (un mineur est rattaché à ses représentants légaux)."
        )
    guardian = _person(guardian_nir, "Tuteur ou curateur")
    if is_minor(guardian, today):
        raise ProtectionError("Le tuteur ou curateur doit être majeur.")
    account = User.objects.filter(person=guardian, kind=User.Kind.PATIENT, is_active=True).first()
    if account is None:
        raise ProtectionError(
            "Le tuteur ou curateur n'a pas de compte Carnet actif : il doit d'abord activer son "
            "propre espace santé, puis relancez la commande."
        )
    space = Space.objects.filter(person=adult).first()
    if space is None or space.state != Space.State.ACTIVE:
        raise ProtectionError(_space_refusal(space))

    with transaction.atomic():
        # Under the space's lock: a closure cannot slip in between the check and the write,
        # and two registrations of the same measure do not both create a link.
        space = Space.objects.select_for_update(no_key=True).get(pk=space.pk)
        if space.state != Space.State.ACTIVE:
            raise ProtectionError(_space_refusal(space))
        link = (
            Link.objects.select_for_update()
            .filter(space=space, user=account, ended_at__isnull=True)
            .first()
        )
        facts = {"mesure": str(kind), "jusqu_au": until.isoformat()}
        if link is None:
            link = Link.objects.create(
                space=space, user=account, kind=kind, until=until, started_at=clock.now()
            )
            _audit(actor, space, "mesure_de_protection", link, **facts)
            link.outcome = ADDED
        elif link.kind == kind and link.until == until:
            link.outcome = UNCHANGED
        else:
            before = {
                "mesure_precedente": link.kind,
                "jusqu_au_precedent": link.until.isoformat() if link.until else None,
            }
            link.kind, link.until = kind, until
            link.save(update_fields=["kind", "until"])
            _audit(actor, space, "mesure_de_protection_modifiee", link, **facts, **before)
            link.outcome = CHANGED
    return link


def protection_measure_end(*, adult_nir: str, guardian_nir: str, actor: str) -> Link:
    """End the guardian's tutelle or curatelle over the adult's space (the judge lifted it, or
    named someone else): the link keeps its dates, the guardian's next request acts for
    themselves again."""
    from carnet.accounts.models import User
    from carnet.enrollment.models import Space

    adult_nir = _nir(adult_nir, "Personne protégée")
    guardian_nir = _nir(guardian_nir, "Tuteur ou curateur")
    adult = _person(adult_nir, "Personne protégée")
    guardian = _person(guardian_nir, "Tuteur ou curateur")
    space = Space.objects.filter(person=adult).first()
    account = User.objects.filter(person=guardian, kind=User.Kind.PATIENT).first()
    with transaction.atomic():
        link = (
            Link.objects.select_for_update()
            .filter(
                space=space,
                user=account,
                kind__in=list(KINDS.values()),
                ended_at__isnull=True,
            )
            .first()
            if space is not None and account is not None
            else None
        )
        if link is None:
            raise ProtectionError(
                "Aucune mesure de protection en cours entre ces deux personnes : rien n'a été "
                "modifié."
            )
        link.ended_at, link.ended_reason = clock.now(), ENDED_REASON
        link.save(update_fields=["ended_at", "ended_reason"])
        _audit(
            actor, space, "mesure_de_protection_levee", link, mesure=link.kind, motif=ENDED_REASON
        )
    return link
