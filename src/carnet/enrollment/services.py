"""The life of a space: provisional codes, activation, opposition, automatic creation, closure.

Every state change goes through `_transition`, which refuses illegal moves, updates the row
only if it is still in the expected state (safe against concurrent sweeps) and audits.
"""

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from carnet.accounts.models import User
from carnet.accounts.passwords import password_validate
from carnet.audit.services import Entry, events_record
from carnet.core import blobs, clock, crypto, keys, ratelimit
from carnet.core.validators import parse_identifier
from carnet.notifications.services import Draft, messages_queue, render_email, sms
from carnet.registry.models import InsuredPerson

from . import letters
from .models import ContactCheck, ProvisionalCode, Space
from .signals import space_activated, space_purging

log = logging.getLogger(__name__)
State = Space.State

ALLOWED = {
    (State.PENDING, State.ACTIVE),
    (State.PENDING, State.OPPOSED),
    (State.OPPOSED, State.ACTIVE),
    (State.ACTIVE, State.CLOSED),
    (State.CLOSED, State.ACTIVE),
    (State.CLOSED, State.PURGED),
}
CODE_PURPOSE = "provisional-code"
CONTACT_PURPOSE = "contact-check"


class TransitionError(Exception):
    """An illegal move of a space; the message is French and shown as is."""


class IdentificationError(Exception):
    """Why the activation identification failed: `kind` is generic, expired, used or locked."""

    def __init__(self, kind: str, message: str, until: datetime | None = None):
        super().__init__(message)
        self.kind, self.message, self.until = kind, message, until


def _setting(name: str):
    return settings.CARNET[name]


def _transition(
    space: Space,
    to: str,
    *,
    actor: str,
    reason: str,
    client: str = "",
    sources: tuple[str, ...] | None = None,
    **fields,
) -> Space:
    """Move the space to `to`. `sources` narrows ALLOWED to the states this use case starts
    from: reopening and activating both lead to `active`, but from different states."""
    frm = space.state
    if (frm, to) not in ALLOWED or (sources is not None and frm not in sources):
        raise TransitionError(
            f"Impossible de passer l'espace de l'état « {State(frm).label} » "
            f"à l'état « {State(to).label} »."
        )
    with transaction.atomic():
        updated = Space.objects.filter(pk=space.pk, state=frm).update(state=to, **fields)
        if not updated:
            raise TransitionError("L'espace a changé d'état entre-temps ; veuillez réessayer.")
        if to == State.ACTIVE:
            space_activated.send(sender=Space, space_ids=[space.pk])
        events_record(
            [
                Entry(
                    actor=actor,
                    action="espace_transition",
                    space_id=space.public_id,
                    object_type="space",
                    object_id=str(space.public_id),
                    detail={"de": frm, "vers": to, "motif": reason},
                    client=client,
                )
            ]
        )
    space.state = to
    for name, value in fields.items():
        setattr(space, name, value)
    return space


# --- Provisional codes ----------------------------------------------------------------------


def _new_code() -> tuple[str, str]:
    code = crypto.random_code(_setting("CODE_LENGTH"))
    return code, crypto.keyed_hash(code, purpose=CODE_PURPOSE)


def _code_email(
    person: InsuredPerson,
    code: str,
    expires_at: datetime,
    *,
    state: str = State.PENDING,
    representative: InsuredPerson | None = None,
) -> Draft:
    # `state` picks the right promise: only a pending space is created automatically. A
    # minor's code goes to their first legal representative (`representative`).
    context = {"code": code, "deadline": expires_at, "url": settings.SERVICE_URL, "state": state}
    if representative is not None:
        return render_email(
            "code_provisoire_enfant",
            {**context, "person": representative, "child": person},
            to=representative.email,
            kind="code_provisoire",
        )
    return render_email(
        "code_provisoire", {**context, "person": person}, to=person.email, kind="code_provisoire"
    )


def code_recipients(persons: list[InsuredPerson]) -> dict[int, InsuredPerson]:
    """For each minor among `persons` whose first legal representative ("parent principal") is
    in the registry with an email: that representative, who receives the child's code."""
    firsts = {
        person.pk: guardian_nirs(person)[0]
        for person in persons
        if person.guardian_nirs and is_minor(person)
    }
    if not firsts:
        return {}
    found = InsuredPerson.objects.filter(nir__in=set(firsts.values())).exclude(email="")
    by_nir = {representative.nir: representative for representative in found}
    return {pk: by_nir[nir] for pk, nir in firsts.items() if nir in by_nir}


@dataclass
class SendReport:
    emails: int = 0
    letters: int = 0
    letter_files: list | None = None


def codes_send(
    *, limit: int | None = None, progress: Callable[[int], None] | None = None
) -> SendReport:
    """Issue one code to each person without a space: email when known, else a letter batch."""
    report = SendReport(letter_files=[])
    batch_size = _setting("SEND_CODES_BATCH_SIZE")
    remaining = limit
    last_id = 0
    while remaining is None or remaining > 0:
        size = batch_size if remaining is None else min(batch_size, remaining)
        persons = list(
            InsuredPerson.objects.filter(id__gt=last_id, space__isnull=True).order_by("id")[:size]
        )
        if not persons:
            break
        last_id = persons[-1].id
        issued = codes_issue(persons, letter_files=report.letter_files)
        routed = code_recipients(persons)
        emailed = sum(1 for person, _, _ in issued if person.email or person.pk in routed)
        report.emails += emailed
        report.letters += len(issued) - emailed
        if remaining is not None:
            remaining -= len(persons)
        if progress:
            progress(len(persons))
    return report


def codes_issue(
    persons: list[InsuredPerson], *, letter_files: list[str] | None = None
) -> list[tuple[InsuredPerson, str, datetime]]:
    """Create the pending spaces and codes of persons without a space, queue the emails.

    With `letter_files`, the letters of persons without email are written (and synced) before
    the codes commit, and the PDF's path is appended: no code is ever issued without its letter.
    Returns (person, code, expiry) for each person.
    """
    now = clock.now()
    expires_at = now + _setting("CODE_VALIDITY")
    representatives = code_recipients(persons)
    codes, spaces, drafts, entries, issued = [], [], [], [], []
    for person in persons:
        code, code_hash = _new_code()
        representative = representatives.get(person.pk)
        by_email = bool(person.email or representative)
        channel = ProvisionalCode.Channel.EMAIL if by_email else ProvisionalCode.Channel.LETTER
        codes.append(
            ProvisionalCode(
                person=person,
                code_hash=code_hash,
                channel=channel,
                sent_at=now,
                expires_at=expires_at,
            )
        )
        space = Space(
            person=person,
            state=State.PENDING,
            created_at=now,
            auto_activate_at=now + _setting("AUTO_CREATION_DELAY"),
        )
        spaces.append(space)
        if by_email:
            drafts.append(_code_email(person, code, expires_at, representative=representative))
        issued.append((person, code, expires_at))
        entries.append(
            Entry(
                actor="systeme:send_codes",
                action="code_provisoire_envoye",
                space_id=space.public_id,
                object_type="space",
                object_id=str(space.public_id),
                detail={"canal": channel},
                at=now,
            )
        )
    letter_items = [item for item in issued if not (item[0].email or item[0].pk in representatives)]
    with _letters_committed_with_codes(
        letter_items if letter_files is not None else [], letter_files
    ):
        Space.objects.bulk_create(spaces)
        ProvisionalCode.objects.bulk_create(codes)
        messages_queue(drafts)
        events_record(entries)
    return issued


@contextmanager
def _letters_committed_with_codes(letter_items: list, letter_files: list[str] | None):
    """One transaction whose letters PDF is durable before the commit, removed if it fails."""
    path = None
    try:
        with transaction.atomic():
            yield
            if letter_items:
                path = letters.write_code_letters(letter_items)
    except BaseException:
        if path:
            Path(path).unlink(missing_ok=True)  # its codes were never committed
        raise
    if path and letter_files is not None:
        letter_files.append(path)


def _revoke_unused_codes(person: InsuredPerson) -> None:
    ProvisionalCode.objects.filter(
        person=person, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=clock.now())


def code_reissue(*, nir: str, birth_date: date, vitale_serial: str, client: str) -> None:
    """ "J'ai besoin d'un code": send a new code to the contact on file, silently.

    The caller answers the same way whatever happens, so this reveals nothing.
    """
    _check_not_locked(nir, client)
    person = InsuredPerson.objects.filter(nir=nir).select_related("space").first()
    if (
        person is None
        or person.birth_date != birth_date
        or not crypto.hashes_equal(person.vitale_serial, vitale_serial)
    ):
        _record_failure(nir, client)
        return
    space = getattr(person, "space", None)
    has_login = User.objects.filter(person=person).exists()
    if has_login or (space is not None and space.state == State.PURGED):
        return  # those persons log in (or recover) instead of activating
    now = clock.now()
    recent = ProvisionalCode.objects.filter(person=person, sent_at__gt=now - timedelta(days=1))
    if recent.count() >= _setting("CODE_REISSUE_MAX_PER_DAY"):
        return  # nobody can flood a person's mailbox with codes
    expires_at = now + _setting("CODE_VALIDITY")
    code, code_hash = _new_code()
    if person.email:
        state = space.state if space is not None else State.PENDING
        draft = _code_email(person, code, expires_at, state=state)
        channel = ProvisionalCode.Channel.EMAIL
    elif person.mobile:
        channel = ProvisionalCode.Channel.SMS
        draft = sms(
            f"Carnet : votre code provisoire est {code}. Il est valable jusqu'au "
            f"{clock.localdate_fr(expires_at)}. Ne le communiquez à personne.",
            to=person.mobile,
            kind="code_provisoire",
        )
    else:
        channel, draft = ProvisionalCode.Channel.LETTER, None
    letter_items = [(person, code, expires_at)] if channel == ProvisionalCode.Channel.LETTER else []
    with _letters_committed_with_codes(letter_items, None):
        _revoke_unused_codes(person)
        ProvisionalCode.objects.create(
            person=person, code_hash=code_hash, channel=channel, sent_at=now, expires_at=expires_at
        )
        if space is None:
            space = Space.objects.create(
                person=person,
                created_at=now,
                auto_activate_at=now + _setting("AUTO_CREATION_DELAY"),
            )
        elif space.state == State.PENDING:
            # The new code's message gives its own deadline: automatic creation waits for it.
            Space.objects.filter(pk=space.pk, state=State.PENDING).update(
                auto_activate_at=now + _setting("AUTO_CREATION_DELAY")
            )
        if draft:
            messages_queue([draft])
        events_record(
            [
                Entry(
                    actor=f"usager:{person.public_id}",
                    action="code_provisoire_renvoye",
                    space_id=space.public_id,
                    detail={"canal": channel},
                    client=client,
                )
            ]
        )


# --- Identification (wizard step 1) ---------------------------------------------------------


def _nir_key(nir: str) -> str:
    return "activation:nir:" + hashlib.sha256(nir.encode()).hexdigest()[:32]


def _client_key(client: str) -> str:
    return "activation:client:" + client


def _check_not_locked(nir: str, client: str) -> None:
    for key in (_nir_key(nir), _client_key(client)):
        until = ratelimit.blocked_until(key)
        if until:
            raise IdentificationError(
                "locked",
                "Trop de tentatives infructueuses. Par sécurité, réessayez après "
                f"{clock.localtime_fr(until)}.",
                until,
            )


def _record_failure(nir: str, client: str) -> None:
    window, lockout = _setting("ACTIVATION_FAILURE_WINDOW"), _setting("ACTIVATION_LOCKOUT")
    ratelimit.record_failure(
        _nir_key(nir),
        limit=_setting("ACTIVATION_MAX_FAILURES_PER_NIR"),
        window=window,
        lockout=lockout,
    )
    ratelimit.record_failure(
        _client_key(client),
        limit=_setting("ACTIVATION_MAX_FAILURES_PER_CLIENT"),
        window=window,
        lockout=lockout,
    )


GENERIC_FAILURE = (
    "Les informations saisies ne permettent pas de vous identifier. Vérifiez votre code "
    "provisoire, votre numéro de sécurité sociale, votre date de naissance et le numéro de série "
    "de votre carte Vitale."
)


@dataclass
class Identified:
    person: InsuredPerson
    code: ProvisionalCode
    space: Space


def identification_check(
    *, code: str, nir: str, birth_date: date, vitale_photo: bool, vitale_serial: str, client: str
) -> Identified:
    """Check the four pieces together; one generic message whichever is wrong."""
    _check_not_locked(nir, client)
    person = InsuredPerson.objects.filter(nir=nir).first()
    # The same indexed lookup whether the NIR is known or not, so both take the same time.
    code_hash = crypto.keyed_hash(code, purpose=CODE_PURPOSE)
    candidate = ProvisionalCode.objects.filter(code_hash=code_hash).first()
    if candidate is not None and (person is None or candidate.person_id != person.pk):
        candidate = None
    matches = (
        person is not None
        and candidate is not None
        and person.birth_date == birth_date
        and person.vitale_photo == vitale_photo
        and crypto.hashes_equal(person.vitale_serial, vitale_serial)
    )
    if not matches:
        _record_failure(nir, client)
        if person is not None and candidate is None:
            ProvisionalCode.objects.filter(
                person=person, used_at__isnull=True, revoked_at__isnull=True
            ).update(failed_attempts=F("failed_attempts") + 1)
        _check_not_locked(nir, client)  # the failure that reaches the limit says so at once
        raise IdentificationError("generic", GENERIC_FAILURE)
    space = Space.objects.filter(person=person).first()
    # A space closed by opposition after its automatic creation has no login: a new code
    # activates it again, as the opposition email promises.
    if (
        space is None
        or space.state == State.PURGED
        or (
            space.state in (State.ACTIVE, State.CLOSED)
            and User.objects.filter(person=person).exists()
        )
    ):
        used = "Ce code provisoire a déjà été utilisé. " if candidate.used_at else ""
        raise IdentificationError(
            "activated",
            f"{used}Votre espace est déjà activé : connectez-vous avec votre identifiant et "
            "votre mot de passe.",
        )
    _code_usable(candidate)
    ratelimit.reset(_nir_key(nir))
    return Identified(person=person, code=candidate, space=space)


def _code_usable(candidate: ProvisionalCode) -> None:
    if candidate.used_at is not None:
        raise IdentificationError(
            "used",
            "Ce code provisoire a déjà été utilisé. Si vous n'êtes pas à l'origine de cette "
            "utilisation, demandez un nouveau code.",
        )
    if candidate.revoked_at is not None:
        raise IdentificationError(
            "expired",
            "Ce code provisoire a été remplacé par un code plus récent : utilisez le dernier "
            "code reçu, ou demandez un nouveau code.",
        )
    if candidate.expires_at <= clock.now():
        raise IdentificationError(
            "expired",
            f"Ce code provisoire a expiré le {clock.localdate_fr(candidate.expires_at)}. "
            "Vous pouvez demander un nouveau code.",
        )


# --- Activation through an identity provider (FranceConnect+) --------------------------------

ACTIVATION_SESSION_KEY = "activation"  # the wizard's state (enrollment.views)

FEDERATED_REFUSALS = {
    "minor": "L'espace d'une personne mineure est activé par son représentant légal.",
    "opposed": "Vous vous êtes opposé(e) à la création de votre espace. Pour changer d'avis, "
    "demandez un nouveau code provisoire.",
    "closed": "Votre espace est fermé ou supprimé : il ne peut pas être activé ainsi. "
    "Contactez l'assistance de l'Assurance Maladie.",
    "no_code": "Votre code provisoire n'est plus valable : demandez-en un nouveau pour "
    "activer votre espace.",
}


def activation_start_federated(session, person: InsuredPerson, *, provider: str) -> str:
    """Start the activation wizard for a person identified by an identity provider: the
    provider's identity stands in for the four pieces of step 1 (code, NIR, birth date, card),
    and activating uses the person's current code as the wizard does. Returns "" when the
    wizard can go on, else the key of the French refusal in FEDERATED_REFUSALS."""
    space = Space.objects.filter(person=person).first()
    if is_minor(person):
        return "minor"
    if space is None or space.state in (Space.State.CLOSED, Space.State.PURGED):
        return "closed"
    if space.state == Space.State.OPPOSED:
        return "opposed"
    code = (
        ProvisionalCode.objects.filter(person=person, used_at__isnull=True, revoked_at__isnull=True)
        .filter(expires_at__gt=clock.now())
        .order_by("-sent_at", "-id")
        .first()
    )
    if code is None:
        return "no_code"
    session.cycle_key()  # a new session id once identified, as after step 1
    session[ACTIVATION_SESSION_KEY] = {"code_id": code.pk, "federated": provider}
    return ""


# --- A minor's space, by a legal representative ---------------------------------------------

CHILD_FAILURE = (
    "Ces informations ne permettent pas de rattacher ce profil. Vérifiez le code provisoire de "
    "l'enfant, le numéro de sécurité sociale et la date de naissance. Seul un représentant "
    "légal connu de l'Assurance Maladie peut rattacher le profil d'un enfant."
)


def guardian_nirs(person: InsuredPerson) -> list[str]:
    """The NIRs of the person's legal representatives, as the registry names them (the first
    is the "parent principal")."""
    return [nir for nir in person.guardian_nirs.split("|") if nir]


def is_minor(person: InsuredPerson, on: date | None = None) -> bool:
    on = on or clock.today()
    try:
        adult_on = person.birth_date.replace(year=person.birth_date.year + 18)
    except ValueError:  # born on 29 February: of age on 1 March
        adult_on = date(person.birth_date.year + 18, 3, 1)
    return on < adult_on


class ChildChoiceNeeded(Exception):
    """Several children on this card were born that day (twins): the representative picks."""

    def __init__(self, children: list[InsuredPerson]):
        super().__init__("choice needed")
        self.children = children


def child_identification_check(
    *,
    guardian: InsuredPerson,
    code: str,
    nir: str,
    birth_date: date,
    child: str = "",
    client: str,
) -> Identified:
    """A legal representative identifies a minor the registry links them to: the child's code,
    the child's NIR or the card's (a representative's, on which the child is), the birth date.
    One message whatever is wrong, the same for someone who is not a representative: nothing
    is revealed. Twins on one card: ChildChoiceNeeded, then `child` (a public id) picks."""
    _check_not_locked(nir, client)
    children = [
        person
        for person in InsuredPerson.objects.filter(
            Q(nir=nir) | Q(guardian_nirs__contains=nir),
            birth_date=birth_date,
            guardian_nirs__contains=guardian.nir,
        )
        if guardian.nir in guardian_nirs(person)
        and (person.nir == nir or nir in guardian_nirs(person))
        and is_minor(person)
    ]
    if len(children) > 1 and not child:
        raise ChildChoiceNeeded(sorted(children, key=lambda person: person.first_name))
    if child:
        children = [person for person in children if str(person.public_id) == child]
    person = children[0] if len(children) == 1 else None
    code_hash = crypto.keyed_hash(code, purpose=CODE_PURPOSE)
    candidate = ProvisionalCode.objects.filter(code_hash=code_hash).first()
    if person is None or candidate is None or candidate.person_id != person.pk:
        _record_failure(nir, client)
        _check_not_locked(nir, client)
        raise IdentificationError("generic", CHILD_FAILURE)
    space = Space.objects.filter(person=person).first()
    if space is None or space.state == State.PURGED:
        raise IdentificationError("generic", CHILD_FAILURE)
    _code_usable(candidate)
    ratelimit.reset(_nir_key(nir))
    return Identified(person=person, code=candidate, space=space)


def child_space_activate(*, identified: Identified, actor: str, client: str = "") -> Space:
    """A representative activates the minor's space (no login of its own: the child's profile
    is managed from the representative's account). In the caller's transaction."""
    current = _load(identified)
    _use_code(current.code)
    if current.space.state == State.ACTIVE:  # created automatically meanwhile
        return current.space
    return _transition(
        current.space,
        State.ACTIVE,
        actor=actor,
        reason="activation par un representant legal",
        client=client,
        sources=(State.PENDING, State.OPPOSED, State.CLOSED),
        activated_at=clock.now(),
        activated_automatically=False,
        closed_at=None,
        archive_until=None,
        deletion_requested_at=None,
        deletion_due_at=None,
    )


def _use_code(code: ProvisionalCode) -> None:
    now = clock.now()
    used = ProvisionalCode.objects.filter(
        pk=code.pk, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not used:
        raise TransitionError(
            "Ce code provisoire n'est plus valable (utilisé, remplacé ou expiré) : recommencez "
            "l'activation."
        )


def _load(identified: Identified) -> Identified:
    """Re-read code and space from the database inside the caller's transaction."""
    code = ProvisionalCode.objects.select_for_update().get(pk=identified.code.pk)
    space = Space.objects.select_for_update().get(pk=identified.space.pk)
    return Identified(person=identified.person, code=code, space=space)


# --- Contact checks (wizard step 3) ---------------------------------------------------------


class TooManyCodes(Exception):
    """Too many verification codes sent to one person lately; the message is French."""


def _contact_sends_key(person: InsuredPerson) -> str:
    return f"contact-check:send:{person.public_id}"


def contact_check_start(*, person: InsuredPerson, channel: str, value: str) -> ContactCheck:
    """Send a 6-digit code to a new email or mobile. Sends are counted per person: without a
    bound, "Renvoyer un code" would send SMS at will and give 5 fresh guesses each time."""
    key = _contact_sends_key(person)
    until = ratelimit.blocked_until(key)
    if until:
        raise TooManyCodes(
            "Trop de codes de vérification envoyés. Par sécurité, réessayez après "
            f"{clock.localtime_fr(until)}."
        )
    ratelimit.record_failure(
        key,
        limit=_setting("CONTACT_CODE_MAX_SENDS"),
        window=_setting("ACTIVATION_FAILURE_WINDOW"),
        lockout=_setting("ACTIVATION_LOCKOUT"),
    )
    now = clock.now()
    code = crypto.random_digits(6)
    check = ContactCheck(
        person=person,
        channel=channel,
        value=value,
        created_at=now,
        code_hash=crypto.keyed_hash(code, purpose=CONTACT_PURPOSE),
        expires_at=now + _setting("CONTACT_CODE_VALIDITY"),
    )
    minutes = int(_setting("CONTACT_CODE_VALIDITY").total_seconds() // 60)
    if channel == ContactCheck.Channel.EMAIL:
        draft = render_email(
            "code_verification", {"code": code, "minutes": minutes}, to=value, kind="verification"
        )
    else:
        draft = sms(
            f"Carnet : votre code de vérification est {code}. Il est valable {minutes} min.",
            to=value,
            kind="verification",
        )
    with transaction.atomic():
        check.save()
        messages_queue([draft])
    return check


def contact_check_confirm(*, check_id: int, person: InsuredPerson, code: str) -> ContactCheck:
    wrong = None
    with transaction.atomic():
        check = ContactCheck.objects.select_for_update().filter(pk=check_id, person=person).first()
        if check is None or check.verified_at is not None:
            raise ValidationError("Ce code n'est plus valable : demandez-en un nouveau.")
        if check.attempts >= _setting("CONTACT_CODE_MAX_ATTEMPTS"):
            raise ValidationError("Trop d'essais : demandez un nouveau code.", code="too_many")
        if check.expires_at <= clock.now():
            raise ValidationError("Ce code a expiré : demandez-en un nouveau.", code="expired")
        if crypto.hashes_equal(
            check.code_hash, crypto.keyed_hash(code.strip(), purpose=CONTACT_PURPOSE)
        ):
            check.verified_at = clock.now()
            check.save(update_fields=["verified_at"])
        else:
            check.attempts += 1
            check.save(update_fields=["attempts"])
            wrong = _setting("CONTACT_CODE_MAX_ATTEMPTS") - check.attempts
    # Raised once the block has committed: raising inside it would roll the count back.
    if wrong is not None:
        raise ValidationError(f"Code incorrect. Il vous reste {wrong} essai(s).", code="wrong_code")
    return check


# --- Decision: activate or oppose -----------------------------------------------------------


@dataclass
class Credentials:
    identifier: str
    password: str
    email: str
    email_verified: bool
    mobile: str
    mobile_verified: bool


def identifier_suggestions(base: str, *, count: int = 3) -> list[str]:
    """Free identifiers close to `base`, made valid: « Élodie Dupont » gives elodie.dupont.123."""
    folded = unicodedata.normalize("NFKD", base or "").encode("ascii", "ignore").decode().lower()
    stem = re.sub(r"[^a-z0-9._-]+", ".", folded).strip("._-") or "carnet"
    stem = stem[: _setting("IDENTIFIER_MAX_LENGTH") - 5]
    suggestions = []
    while len(suggestions) < count:
        candidate = f"{stem}.{crypto.random_digits(3)}"
        if len(candidate) < _setting("IDENTIFIER_MIN_LENGTH"):
            candidate = f"{stem}.usager.{crypto.random_digits(3)}"
        if candidate not in suggestions and not User.objects.filter(identifier=candidate).exists():
            suggestions.append(candidate)
    return suggestions


def credentials_validate(*, person: InsuredPerson, identifier: str, password: str) -> str:
    """Validate identifier and password together; raises ValidationError keyed by field."""
    errors: dict[str, list] = {}
    try:
        identifier = parse_identifier(identifier, nir=person.nir)
    except ValidationError as exc:
        errors["identifier"] = exc.messages
    else:
        if User.objects.filter(identifier=identifier).exists():
            errors["identifier"] = ["Cet identifiant est déjà pris."]
    try:
        password_validate(password, identifier=identifier, person=person)
    except ValidationError as exc:
        errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return identifier


def space_activate(*, identified: Identified, credentials: Credentials, client: str = "") -> User:
    """Create the login and make the space active (from pending, opposed, or auto-created)."""
    person = identified.person
    identifier = credentials_validate(
        person=person, identifier=credentials.identifier, password=credentials.password
    )
    try:
        with transaction.atomic():
            current = _load(identified)
            _use_code(current.code)
            user = User.objects.create_user(
                identifier,
                credentials.password,
                kind=User.Kind.PATIENT,
                person=person,
                email=credentials.email,
                email_verified=credentials.email_verified,
                mobile=credentials.mobile,
                mobile_verified=credentials.mobile_verified,
            )
            actor = user.actor
            if current.space.state != State.ACTIVE:
                _transition(
                    current.space,
                    State.ACTIVE,
                    actor=actor,
                    reason="activation",
                    client=client,
                    sources=(State.PENDING, State.OPPOSED, State.CLOSED),
                    activated_at=clock.now(),
                    activated_automatically=False,
                    # from closed (opposition after automatic creation): the archive is back
                    closed_at=None,
                    archive_until=None,
                    deletion_requested_at=None,
                    deletion_due_at=None,
                )
            events_record(
                [
                    Entry(
                        actor=actor,
                        action="compte_cree",
                        space_id=current.space.public_id,
                        object_type="user",
                        object_id=str(user.public_id),
                        # activation requires accepting the terms: record which version
                        detail={"cgu_acceptees": settings.CARNET["CGU_VERSION"]},
                        client=client,
                    )
                ]
            )
            if credentials.email:
                messages_queue(
                    [
                        render_email(
                            "activation",
                            {"person": person, "user": user, "url": settings.SERVICE_URL},
                            to=credentials.email,
                            kind="activation",
                        )
                    ]
                )
    except IntegrityError as exc:  # the identifier was taken by a concurrent activation
        raise ValidationError({"identifier": ["Cet identifiant est déjà pris."]}) from exc
    return user


def space_oppose(*, identified: Identified, client: str = "", actor: str = "") -> Space:
    """Oppose: a pending space becomes opposed; an auto-created one without login is closed.
    `actor`: a legal representative opposing for a minor (else the person)."""
    person = identified.person
    actor = actor or f"usager:{person.public_id}"
    with transaction.atomic():
        current = _load(identified)
        if current.space.state in (State.OPPOSED, State.CLOSED):
            raise TransitionError(
                "Votre opposition est déjà enregistrée : vous n'avez rien d'autre à faire."
            )
        _use_code(current.code)
        now = clock.now()
        if current.space.state == State.ACTIVE:
            space = _transition(
                current.space,
                State.CLOSED,
                actor=actor,
                reason="opposition apres creation",
                client=client,
                closed_at=now,
                archive_until=now + _setting("ARCHIVE_RETENTION"),
            )
        else:
            space = _transition(
                current.space,
                State.OPPOSED,
                actor=actor,
                reason="opposition",
                client=client,
                opposed_at=now,
            )
        if person.email:
            messages_queue(
                [
                    render_email(
                        "opposition",
                        {"person": person, "url": settings.SERVICE_URL},
                        to=person.email,
                        kind="opposition",
                    )
                ]
            )
    return space


def opposition_proof_pdf(*, space: Space) -> bytes:
    return letters.opposition_proof(space)


# --- Automatic creation ---------------------------------------------------------------------


def spaces_auto_create(*, batch_size: int | None = None) -> int:
    """Activate every space still pending when its six weeks are over. Idempotent and safe to
    run concurrently: rows are claimed with SKIP LOCKED and moved with a conditional update."""
    batch_size = batch_size or _setting("AUTO_CREATION_BATCH_SIZE")
    total = 0
    while True:
        now = clock.now()
        with transaction.atomic():
            claimed = list(
                Space.objects.select_for_update(skip_locked=True)
                .filter(state=State.PENDING, auto_activate_at__lte=now)
                .order_by("id")
                .values_list("id", "public_id")[:batch_size]
            )
            if not claimed:
                return total
            ids = [pk for pk, _ in claimed]
            moved = Space.objects.filter(id__in=ids, state=State.PENDING).update(
                state=State.ACTIVE, activated_at=now, activated_automatically=True
            )
            if moved != len(ids):  # another sweep got some of them: record only ours
                ours = set(
                    Space.objects.filter(id__in=ids, activated_at=now).values_list("id", flat=True)
                )
                claimed = [c for c in claimed if c[0] in ours]
            events_record(
                [
                    Entry(
                        actor="systeme:tick",
                        action="espace_transition",
                        space_id=public_id,
                        object_type="space",
                        object_id=str(public_id),
                        at=now,
                        detail={
                            "de": State.PENDING,
                            "vers": State.ACTIVE,
                            "motif": "creation automatique : pas d'opposition en 6 semaines",
                        },
                    )
                    for _, public_id in claimed
                ]
            )
            space_activated.send(sender=Space, space_ids=[pk for pk, _ in claimed])
            total += len(claimed)


# --- Closure, deletion, reopening, purge ----------------------------------------------------


def _holder_only(space: Space, actor: str) -> None:
    """Closing a space or asking for its deletion is its holder's decision (or the service's):
    never a caregiver's, a representative's or a guardian's acting for them (issue 9)."""
    kind, _, public_id = actor.partition(":")
    if kind != User.Kind.PATIENT:
        return  # the service (systeme:…) or an operator
    if not User.objects.filter(public_id=public_id, person_id=space.person_id).exists():
        raise TransitionError("Seul le titulaire de l'espace peut le fermer ou le supprimer.")


def space_close(*, space: Space, actor: str, confirmed: bool, client: str = "") -> Space:
    _holder_only(space, actor)
    if not confirmed:
        raise TransitionError("Confirmez la fermeture de votre espace pour continuer.")
    now = clock.now()
    return _transition(
        space,
        State.CLOSED,
        actor=actor,
        reason="fermeture",
        client=client,
        closed_at=now,
        archive_until=now + _setting("ARCHIVE_RETENTION"),
    )


def space_request_deletion(*, space: Space, actor: str, client: str = "") -> Space:
    """Ask for deletion of a closed space: done by the sweep after the cancel window."""
    _holder_only(space, actor)
    if space.state != State.CLOSED:
        raise TransitionError("Seul un espace fermé peut être supprimé.")
    now = clock.now()
    due = now + _setting("DELETION_CANCEL_WINDOW")
    with transaction.atomic():
        # Conditional on the state in the database: a concurrent reopening wins.
        if not Space.objects.filter(pk=space.pk, state=State.CLOSED).update(
            deletion_requested_at=now, deletion_due_at=due
        ):
            raise TransitionError("Seul un espace fermé peut être supprimé.")
        events_record(
            [
                Entry(
                    actor=actor,
                    action="suppression_demandee",
                    space_id=space.public_id,
                    detail={"echeance": due.isoformat()},
                    client=client,
                )
            ]
        )
    space.deletion_requested_at, space.deletion_due_at = now, due
    return space


def space_cancel_deletion(*, space: Space, actor: str, client: str = "") -> Space:
    if space.state != State.CLOSED or space.deletion_requested_at is None:
        raise TransitionError("Aucune demande de suppression n'est en cours.")
    with transaction.atomic():
        if not Space.objects.filter(
            pk=space.pk, state=State.CLOSED, deletion_requested_at__isnull=False
        ).update(deletion_requested_at=None, deletion_due_at=None):
            raise TransitionError("Aucune demande de suppression n'est en cours.")
        events_record(
            [
                Entry(
                    actor=actor,
                    action="suppression_annulee",
                    space_id=space.public_id,
                    client=client,
                )
            ]
        )
    space.deletion_requested_at = space.deletion_due_at = None
    return space


def space_reopen(*, space: Space, actor: str, client: str = "") -> Space:
    """Reopen a closed space before purge: everything is back, a pending deletion is cancelled."""
    return _transition(
        space,
        State.ACTIVE,
        actor=actor,
        reason="reouverture",
        client=client,
        sources=(State.CLOSED,),
        closed_at=None,
        archive_until=None,
        deletion_requested_at=None,
        deletion_due_at=None,
    )


def space_data_key(space: Space):
    """The space's data key, created on first use (pending spaces can already receive data)."""
    if space.data_key_id:
        return space.data_key
    with transaction.atomic():
        locked = Space.objects.select_for_update(no_key=True).get(pk=space.pk)
        if locked.data_key_id is None:
            locked.data_key = keys.data_key_create()
            locked.save(update_fields=["data_key"])
        space.data_key = locked.data_key
    return space.data_key


def space_purge(*, space: Space, actor: str = "systeme:tick") -> Space:
    """Destroy the space's data: blobs, data key (crypto-shredding), codes, login."""
    with transaction.atomic():
        locked = Space.objects.select_for_update().get(pk=space.pk)
        data_key = locked.data_key
        removed = 0
        space_purging.send(sender=Space, space=locked)  # documents, profile… erase their rows
        if data_key is not None:
            removed = blobs.blobs_delete_for_key(data_key)
            keys.data_key_destroy(data_key)
        ProvisionalCode.objects.filter(person_id=locked.person_id).delete()
        ContactCheck.objects.filter(person_id=locked.person_id).delete()
        User.objects.filter(person_id=locked.person_id).update(
            is_active=False, email="", mobile="", password=make_password(None)
        )
        _transition(
            locked,
            State.PURGED,
            actor=actor,
            reason="purge",
            purged_at=clock.now(),
            deletion_requested_at=None,
            deletion_due_at=None,
        )
        events_record(
            [
                Entry(
                    actor=actor,
                    action="espace_purge",
                    space_id=locked.public_id,
                    detail={"fichiers_supprimes": removed, "cle_detruite": data_key is not None},
                )
            ]
        )
    return locked


def spaces_purge_due() -> int:
    now = clock.now()
    is_due = Q(state=State.CLOSED) & (Q(deletion_due_at__lte=now) | Q(archive_until__lte=now))
    count = 0
    for pk in list(Space.objects.filter(is_due).order_by("id").values_list("id", flat=True)):
        with transaction.atomic():
            # Ask again under the lock: a deletion cancelled since the query is not purged.
            space = Space.objects.select_for_update().filter(is_due, pk=pk).first()
            if space is None:
                continue  # cancelled, reopened or purged by someone else meanwhile
            space_purge(space=space)
        count += 1
    return count
