"""The professionals' directory and accounts: the RPPS import, invitations, activation, demo.

The import keeps the registry import's discipline (registry/services.py, documents/care.py):
one transaction per file, every invalid row skipped and listed with its line number in
`<file>.errors.csv`, a file unreadable as a whole refused with one reason and nothing written.
A professional is identified by the RPPS number: re-importing a file changes nothing, a changed
row updates the directory.

An invitation is a random token of 32 bytes sent by email, kept only as a keyed hash (DESIGN
invariant 4), valid PRO_INVITATION_VALIDITY and single use. Following it, the professional
chooses an identifier and a password (the account is created inactive, with an unconfirmed
TOTP device), then enters the first code of their authenticator: the device is confirmed, the
account activated and linked to the directory entry, the invitation used.
"""

import re
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from carnet.accounts.models import User
from carnet.audit.services import Entry, events_record
from carnet.core import clock, crypto, ratelimit
from carnet.core.csvfiles import CsvReading, ImportFileError, csv_errors_write, csv_records
from carnet.core.validators import FEDERATED_IDENTIFIER_PREFIX, parse_rpps, rpps_key
from carnet.notifications.services import messages_queue, render_email

from .models import FINESS, Invitation, Professional

__all__ = [
    "COLUMNS",
    "ActivationError",
    "IdentifierTaken",
    "ImportFileError",
    "InvitationRefused",
    "ProfessionalImportReport",
    "activation_complete",
    "activation_credentials",
    "invitation_issue",
    "professionals_import",
    "seed_professionals",
]

COLUMNS = [
    "rpps",
    "last_name",
    "first_name",
    "profession_code",
    "profession",
    "specialty",
    "establishment",
    "finess",
    "postcode",
    "city",
    "messaging_address",
    "email",
]
# Compared to decide whether a known professional changed (rpps is the key).
COMPARED = COLUMNS[1:]
INVITATION_PURPOSE = "pro-invitation"
TOKEN_BYTES = 32
_FIELD = Professional._meta.get_field
_MAX_LENGTH = {name: _FIELD(name).max_length for name in COMPARED}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PROFESSION_CODE = re.compile(r"[0-9A-Za-z]{1,10}")
_POSTCODE = re.compile(r"[0-9]{5}")
_email_validator = EmailValidator()
_LOOKUP_SIZE = 5000


def _plain(value: str) -> str:
    """Case, accents, spaces and hyphens set aside: "Sage-Femme" and "sage femme" are one."""
    decomposed = unicodedata.normalize("NFKD", value.strip().casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s\-_]+", "_", plain)


# A profession is written with its code ("sage_femme") or its label ("Sage-femme").
_PROFESSIONS = {
    **{_plain(label): code for code, label in Professional.Profession.choices},
    **{_plain(code): code for code in Professional.Profession.values},
}
_PROFESSION_LIST = ", ".join(str(label).lower() for label in Professional.Profession.labels)


def invitation_validity() -> timedelta:
    return settings.CARNET.get("PRO_INVITATION_VALIDITY", timedelta(days=7))


# --- Import: validation of one row ----------------------------------------------------------


@dataclass
class ProfessionalImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    errors_path: str = ""

    @property
    def valid(self) -> int:
        return self.created + self.updated + self.unchanged


def _text(value: str, label: str, name: str, *, required: bool) -> str:
    text = unicodedata.normalize("NFC", value.strip())
    if required and not text:
        raise ValidationError(f"{label} obligatoire")
    if len(text) > _MAX_LENGTH[name]:
        raise ValidationError(f"{label} de plus de {_MAX_LENGTH[name]} caractères")
    if _CONTROL.search(text):
        raise ValidationError(f"{label} : caractère de contrôle interdit")
    return text


def _email(value: str, label: str, name: str) -> str:
    email = value.strip().lower()
    if not email:
        return ""
    if len(email) > _MAX_LENGTH[name]:
        raise ValidationError(f"{label} invalide (plus de {_MAX_LENGTH[name]} caractères)")
    try:
        _email_validator(email)
    except ValidationError as exc:
        raise ValidationError(f"{label} invalide") from exc
    return email


def _profession(value: str) -> str:
    profession = _PROFESSIONS.get(_plain(value))
    if profession is None:
        if not value.strip():
            raise ValidationError("profession obligatoire")
        raise ValidationError(f"profession inconnue (attendu l'une de : {_PROFESSION_LIST})")
    return profession


def _parse(values: list[str], at: dict[str, int]) -> tuple:
    """Validate one record: the values of COLUMNS, normalised, or ValidationError (French)."""
    try:
        rpps = parse_rpps(values[at["rpps"]].strip())
    except ValidationError as exc:
        raise ValidationError("RPPS : " + " ".join(exc.messages)) from exc
    profession_code = values[at["profession_code"]].strip()
    if profession_code and not _PROFESSION_CODE.fullmatch(profession_code):
        raise ValidationError("code profession invalide (10 lettres ou chiffres au plus)")
    finess = values[at["finess"]].strip().upper()
    if finess and not FINESS.fullmatch(finess):
        raise ValidationError("FINESS invalide (9 chiffres, ou 2A/2B suivis de 7 chiffres)")
    postcode = values[at["postcode"]].strip()
    if postcode and not _POSTCODE.fullmatch(postcode):
        raise ValidationError("code postal invalide (5 chiffres)")
    return (
        rpps,
        _text(values[at["last_name"]], "nom", "last_name", required=True),
        _text(values[at["first_name"]], "prénom", "first_name", required=True),
        profession_code,
        _profession(values[at["profession"]]),
        _text(values[at["specialty"]], "spécialité", "specialty", required=False),
        _text(values[at["establishment"]], "établissement", "establishment", required=False),
        finess,
        postcode,
        _text(values[at["city"]], "commune", "city", required=False),
        _email(values[at["messaging_address"]], "adresse de messagerie", "messaging_address"),
        _email(values[at["email"]], "adresse e-mail", "email"),
    )


def _batches(
    path: Path, reading: CsvReading, errors: list[tuple[int, str]], batch_size: int
) -> Iterator[tuple[list[tuple], int]]:
    """Read and validate the file: (valid rows, lines read so far) by batches.

    A row repeating the RPPS of an earlier row is refused, wherever it is in the file
    (otherwise the two would take turns on every import).
    """
    batch: list[tuple] = []
    seen: dict[str, int] = {}
    at = None
    for line, values, error in csv_records(path, reading, COLUMNS, show_expected=True):
        if values is not None:
            at = at or {name: reading.header.index(name) for name in COLUMNS}
            try:
                row = _parse(values, at)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                first = seen.get(row[0])
                if first is not None:
                    error = f"RPPS en double dans le fichier (déjà ligne {first}, ligne ignorée)"
                else:
                    seen[row[0]] = line
                    batch.append(row)
        if error:
            errors.append((line, error))
        if len(batch) >= batch_size:
            yield batch, reading.lines
            batch = []
    yield batch, reading.lines


# --- Import: writing ------------------------------------------------------------------------


def _upsert(batch: list[tuple], report: ProfessionalImportReport, now: datetime) -> None:
    """Create the new professionals of a batch and update the changed ones."""
    rpps = [row[0] for row in batch]
    known: dict[str, Professional] = {}
    for start in range(0, len(rpps), _LOOKUP_SIZE):
        chunk = rpps[start : start + _LOOKUP_SIZE]
        known.update({p.rpps: p for p in Professional.objects.filter(rpps__in=chunk)})
    new, changed = [], []
    for row in batch:
        values = dict(zip(COLUMNS, row, strict=True))
        stored = known.get(row[0])
        if stored is None:
            new.append(Professional(**values, imported_at=now, updated_at=now))
        elif all(getattr(stored, name) == values[name] for name in COMPARED):
            report.unchanged += 1
        else:
            for name in COMPARED:
                setattr(stored, name, values[name])
            stored.updated_at = now
            changed.append(stored)
    Professional.objects.bulk_create(new)
    Professional.objects.bulk_update(changed, [*COMPARED, "updated_at"])
    report.created += len(new)
    report.updated += len(changed)


def professionals_import(
    path: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
    actor: str = "operateur:import",
) -> ProfessionalImportReport:
    """Import a directory CSV. Invalid rows are skipped and listed in `<file>.errors.csv`.

    One transaction for the file: a file found unreadable half-way (or a crash) leaves the
    directory as it was. `progress` receives the lines read since its last call.
    """
    path = Path(path)
    report = ProfessionalImportReport()
    reading = CsvReading()
    batches = _batches(path, reading, report.errors, settings.CARNET["IMPORT_BATCH_SIZE"])
    now = clock.now()
    reported = 1
    with transaction.atomic():
        for batch, lines in batches:
            if batch:
                _upsert(batch, report, now)
            if progress:
                progress(lines - reported)
                reported = lines
        report.errors_path = csv_errors_write(path, report.errors, reading.delimiter)
        events_record(
            [
                Entry(
                    actor=actor,
                    action="professionnels_importes",
                    object_type="fichier",
                    object_id=path.name[:64],
                    detail={
                        "crees": report.created,
                        "mis_a_jour": report.updated,
                        "inchanges": report.unchanged,
                        "lignes_en_erreur": len(report.errors),
                    },
                )
            ]
        )
    return report


# --- Invitations ----------------------------------------------------------------------------


class InvitationRefused(Exception):
    """The professional cannot be invited; the message is French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _token_hash(token: str) -> str:
    return crypto.keyed_hash(token, purpose=INVITATION_PURPOSE)


def _drop_pending_accounts(invitations) -> None:
    """Delete the accounts half set up through these links (inactive, never logged in)."""
    ids = [i.pending_user_id for i in invitations if i.pending_user_id]
    if ids:
        User.objects.filter(
            pk__in=ids, is_active=False, kind=User.Kind.PROFESSIONAL, professional__isnull=True
        ).delete()


def invitation_issue(rpps: str, *, actor: str = "operateur:invitation") -> tuple[Invitation, str]:
    """Invite the professional of this RPPS: a new single-use link by email, the previous
    unused one revoked. Returns (invitation, token); the token is kept nowhere else."""
    try:
        rpps = parse_rpps(rpps)
    except ValidationError as exc:
        raise InvitationRefused(" ".join(exc.messages)) from exc
    now = clock.now()
    with transaction.atomic():
        professional = Professional.objects.select_for_update().filter(rpps=rpps).first()
        if professional is None:
            raise InvitationRefused(f"aucun professionnel de l'annuaire n'a le RPPS {rpps}")
        if professional.user_id is not None:
            raise InvitationRefused(
                f"le compte du professionnel {rpps} est déjà activé : il ne peut pas être "
                "invité à nouveau"
            )
        if not professional.email:
            raise InvitationRefused(
                f"le professionnel {rpps} n'a pas d'adresse e-mail dans l'annuaire"
            )
        outstanding = list(
            professional.invitations.filter(used_at__isnull=True, revoked_at__isnull=True)
        )
        Invitation.objects.filter(pk__in=[i.pk for i in outstanding]).update(
            revoked_at=now, pending_user=None
        )
        _drop_pending_accounts(outstanding)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        invitation = Invitation.objects.create(
            professional=professional,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=now + invitation_validity(),
        )
        messages_queue(
            [
                render_email(
                    "invitation_professionnel",
                    {
                        "professional": professional,
                        "link": f"{settings.SERVICE_URL}/pro/activer/{token}/",
                        "deadline": invitation.expires_at,
                    },
                    to=professional.email,
                    kind="invitation_professionnel",
                )
            ]
        )
        events_record(
            [
                Entry(
                    actor=actor,
                    action="professionnel_invite",
                    object_type="professionnel",
                    object_id=str(professional.public_id),
                    detail={"remplace": len(outstanding)},
                )
            ]
        )
    return invitation, token


# --- Activation -----------------------------------------------------------------------------


class ActivationError(Exception):
    """The code was refused or the link is no longer valid; the message is French."""

    def __init__(self, message: str, *, link_invalid: bool = False):
        super().__init__(message)
        self.message = message
        self.link_invalid = link_invalid


class IdentifierTaken(Exception):
    pass


def invitation_valid(invitation: Invitation, now: datetime | None = None) -> bool:
    now = now or clock.now()
    return (
        invitation.used_at is None
        and invitation.revoked_at is None
        and invitation.expires_at > now
        and invitation.professional.user_id is None
    )


def activation_credentials(invitation: Invitation, *, identifier: str, password: str) -> User:
    """Create (or, when the step is done again, update) the inactive account of this link, with
    a new unconfirmed TOTP device. IdentifierTaken when another account has the identifier."""
    professional = invitation.professional
    others = User.objects.filter(identifier=identifier)
    if invitation.pending_user_id:
        others = others.exclude(pk=invitation.pending_user_id)
    if others.exists():
        raise IdentifierTaken
    try:
        with transaction.atomic():
            user = invitation.pending_user
            if user is None:
                user = User(kind=User.Kind.PROFESSIONAL, is_active=False)
            user.identifier = identifier
            user.email, user.email_verified = professional.email, True
            user.set_password(password)
            user.save()
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            TOTPDevice.objects.create(
                user=user, name="Application d'authentification", confirmed=False
            )
            if invitation.pending_user_id != user.pk:
                invitation.pending_user = user
                invitation.save(update_fields=["pending_user"])
    except IntegrityError as exc:  # the identifier was taken meanwhile
        raise IdentifierTaken from exc
    return user


def _totp_failure(key: str) -> None:
    limits = settings.CARNET
    ratelimit.record_failure(
        key,
        limit=limits["OTP_MAX_ATTEMPTS"],
        window=limits["LOGIN_FAILURE_WINDOW"],
        lockout=limits["LOGIN_LOCKOUT"],
    )


def activation_complete(invitation: Invitation, *, code: str, client: str = "") -> User:
    """Check the first TOTP code; on success confirm the device, activate and link the account,
    use the invitation, audit. ActivationError otherwise (wrong codes are counted)."""
    key = f"pro-activation-totp:{invitation.pk}"
    if ratelimit.blocked_until(key):
        minutes = int(settings.CARNET["LOGIN_LOCKOUT"].total_seconds() // 60)
        raise ActivationError(
            f"Trop de codes erronés. Par sécurité, réessayez dans {minutes} minutes."
        )
    user = invitation.pending_user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first() if user else None
    if device is None:
        raise ActivationError("Ce lien n'est plus valable.", link_invalid=True)
    if not device.verify_token(code):
        _totp_failure(key)
        raise ActivationError("Code incorrect : saisissez le code affiché par votre application.")
    now = clock.now()
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update()
            .select_related("professional")
            .filter(pk=invitation.pk)
            .first()
        )
        professional = Professional.objects.select_for_update().get(pk=invitation.professional_id)
        if locked is None or not invitation_valid(locked, now) or professional.user_id:
            raise ActivationError("Ce lien n'est plus valable.", link_invalid=True)
        if locked.pending_user_id != user.pk:
            raise ActivationError("Ce lien n'est plus valable.", link_invalid=True)
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        user.is_active = True
        user.save(update_fields=["is_active"])
        professional.user = user
        professional.save(update_fields=["user"])
        locked.used_at = now
        locked.save(update_fields=["used_at"])
        # Other links of this professional (none, normally) can no longer serve.
        professional.invitations.filter(used_at__isnull=True, revoked_at__isnull=True).exclude(
            pk=locked.pk
        ).update(revoked_at=now)
        messages_queue(
            [
                render_email(
                    "activation_professionnel",
                    {"professional": professional, "user": user, "url": settings.SERVICE_URL},
                    to=professional.email,
                    kind="activation_professionnel",
                )
            ]
        )
        _activation_record(user, professional, client=client, at=now)
    ratelimit.reset(key)
    return user


def _activation_record(user, professional, *, client: str, at=None, **detail) -> None:
    events_record(
        [
            Entry(
                actor=user.actor,
                action="compte_professionnel_active",
                object_type="professionnel",
                object_id=str(professional.public_id),
                client=client,
                at=at,
                detail=detail,
            )
        ]
    )


def professional_account_for_federation(*, rpps: str, client: str = "") -> User | None:
    """The account of the directory professional with this RPPS, for a login by Pro Santé
    Connect (e-CPS: a substantial identity of its own). A professional of the directory without
    an account gets one, with no password: Pro Santé Connect is how it logs in. None when the
    RPPS is not in the directory."""
    with transaction.atomic():
        professional = Professional.objects.select_for_update().filter(rpps=rpps).first()
        if professional is None:
            return None
        if professional.user_id:
            return professional.user
        user = User(
            kind=User.Kind.PROFESSIONAL,
            # Random, under a prefix no one can choose (core.validators.parse_identifier).
            identifier=f"{FEDERATED_IDENTIFIER_PREFIX}{secrets.token_hex(8)}",
            email=professional.email,
            email_verified=False,  # the directory's address, not one the person confirmed
        )
        user.set_unusable_password()
        user.save()
        professional.user = user
        professional.save(update_fields=["user"])
        _activation_record(user, professional, client=client, moyen="prosanteconnect")
    return user


# --- Demo data ------------------------------------------------------------------------------

_P = Professional.Profession
DEMO_PROFESSIONALS = [
    # (n, first name, last name, profession, RPPS code, specialty, establishment, FINESS,
    #  postcode, city, email)
    (1, "Claire", "DÉMO", _P.MEDECIN, "10", "Médecine générale", "Cabinet médical DÉMO", "",
     "75011", "Paris", "dr.demo@exemple.fr"),
    (2, "Hugo", "DÉMO-PHARMACIE", _P.PHARMACIEN, "21", "", "Pharmacie DÉMO", "",
     "75011", "Paris", "pharmacie.demo@exemple.fr"),
    (3, "Inès", "DÉMO-SOINS", _P.INFIRMIER, "60", "", "Cabinet infirmier DÉMO", "",
     "93100", "Montreuil", "ines.demo@exemple.fr"),
    (4, "Paul", "DÉMO-DENTISTE", _P.CHIRURGIEN_DENTISTE, "40", "", "Cabinet dentaire DÉMO", "",
     "75012", "Paris", "paul.demo@exemple.fr"),
    (5, "Sarah", "DÉMO-LABO", _P.BIOLOGISTE, "10", "Biologie médicale", "Laboratoire DÉMO",
     "990000010", "75013", "Paris", "labo.demo@exemple.fr"),
    (6, "Maud", "DÉMO-HÔPITAL", _P.RADIOLOGUE, "10", "Radiodiagnostic et imagerie médicale",
     "Hôpital DÉMO", "990000028", "75013", "Paris", "imagerie.demo@exemple.fr"),
]  # fmt: skip
DEMO_ACCOUNT = "demo.professionnel"  # linked to the first one, the médecin généraliste


def demo_rpps(n: int) -> str:
    # 1999999…: outside the ranges the RPPS hands out, so clearly synthetic; a valid Luhn key.
    first10 = f"1999999{n:03d}"
    return f"{first10}{rpps_key(first10)}"


def seed_professionals() -> int:
    """Synthetic professionals for the demo (is_demo), the account `demo.professionnel` linked
    to the médecin généraliste. Calling it again creates nothing. Returns how many were new."""
    now = clock.now()
    created = 0
    with transaction.atomic():
        for (
            n,
            first,
            last,
            profession,
            code,
            specialty,
            place,
            finess,
            postcode,
            city,
            email,
        ) in DEMO_PROFESSIONALS:
            local = _plain(first).replace("_", "-")
            values = {
                "first_name": first,
                "last_name": last,
                "profession": profession,
                "profession_code": code,
                "specialty": specialty,
                "establishment": place,
                "finess": finess,
                "postcode": postcode,
                "city": city,
                "messaging_address": f"{local}.demo@demo.mssante.exemple.fr",
                "email": email,
                "is_demo": True,
                "updated_at": now,
            }
            _, new = Professional.objects.update_or_create(
                rpps=demo_rpps(n),
                defaults=values,
                create_defaults={**values, "imported_at": now},
            )
            created += new
        account = User.objects.filter(
            identifier=DEMO_ACCOUNT, kind=User.Kind.PROFESSIONAL, professional__isnull=True
        ).first()
        if account is not None:
            Professional.objects.filter(rpps=demo_rpps(1), user__isnull=True).update(user=account)
    return created


# --- The pro portal: finding a patient, adding a document ---------------------------------------
#
# Finding a patient answers the same "not found" for an unknown NIR, a wrong birth date, a space
# that is not active and a professional the patient blocked: nothing tells whether the person
# exists. Those failures are counted per professional (PRO_SEARCH_*), whatever the client.


def _search_limit(name: str):
    return settings.CARNET[name]


class SearchLocked(Exception):
    """Too many searches without a result: the professional waits until `until`."""

    def __init__(self, until: datetime):
        super().__init__(until)
        self.until = until


def search_key(professional) -> str:
    return f"pro-recherche:{professional.pk}"


def patient_find(*, professional, nir: str, birth_date):
    """(space, facts) of the patient with this NIR and birth date if this professional may go
    on (active space, not blocked: with a basis, or to attest consent or open an emergency
    access); None for anything else, counted as a failure. Raises SearchLocked."""
    from carnet.consent.rules import professional_facts
    from carnet.core import ratelimit
    from carnet.enrollment.models import Space

    key = search_key(professional)
    until = ratelimit.blocked_until(key)
    if until is not None:
        raise SearchLocked(until)
    space = (
        Space.objects.select_related("person")
        .filter(person__nir=nir, person__birth_date=birth_date, state=Space.State.ACTIVE)
        .first()
    )
    facts = professional_facts(space, professional) if space is not None else None
    if facts is None or facts.blocked:
        ratelimit.record_failure(
            key,
            limit=_search_limit("PRO_SEARCH_MAX_FAILURES"),
            window=_search_limit("PRO_SEARCH_FAILURE_WINDOW"),
            lockout=_search_limit("PRO_SEARCH_LOCKOUT"),
        )
        return None
    return space, facts


def document_add_by_professional(
    *,
    user,
    space,
    facts,
    checked,
    title: str,
    category: str,
    document_date,
    withheld: bool = False,
    confidential: bool = False,
    client: str = "",
):
    """A professional adds a document to a patient's space: decided by consent, stored and
    audited by documents in one event (`document_ajout`, author = the professional, with the
    reason consent allowed it), and the patient told that a document arrived, never which
    (invariant 7, by their preferences).
    `withheld`: kept from the patient until the announcement consultation (told later, by
    `documents_withheld_sweep` or `document_release`). `confidential`: a minor's confidential
    act, never shown to their legal representatives (only for a minor).
    Raises consent's Denied, or documents' SpaceNotWritable."""
    from carnet.consent.models import Action
    from carnet.consent.services import access
    from carnet.documents.services import NEW_DOCUMENT_SMS, document_add, owner_notify
    from carnet.enrollment.services import is_minor

    with transaction.atomic():
        decision = access(
            user, space, Action.DOCUMENT_ADD, facts=facts, client=client, record=False
        )
        doc = document_add(
            user=user,
            space=space,
            checked=checked,
            title=title,
            category=category,
            document_date=document_date,
            # The patient's "masquer par défaut" is about the documents they add themselves.
            hidden=False,
            withheld=withheld,
            confidential=confidential and is_minor(space.person),
            client=client,
            basis=decision.reason,
        )
        if not withheld:
            owner_notify(
                space, "nouveau_document", sms_text=NEW_DOCUMENT_SMS, confidential=doc.confidential
            )
    return doc
