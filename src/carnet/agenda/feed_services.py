"""The agenda's iCalendar use cases: the private subscription address, and the import of a file.

The subscription address holds a random token (32 bytes) kept only as its keyed hash (DESIGN
invariant 4): the person sees the address once, right after it is made; a new one replaces it
and the old one stops at once.

An import is all or nothing, in one transaction with one audit event carrying the counts. Its
events are found again by UID on the next import of the same calendar (the row of
(space, source "import", UID)): updated when the file changed them (the file wins over an edit
made here), never duplicated. Left out, and counted as such in the result: all-day events (an
appointment has an hour: 00:00 or 09:00 would be made up), recurring events (RRULE, RDATE or
RECURRENCE-ID: a first occurrence alone would pass for the whole series), our own feed's
reminders and prevention items, and the person's own appointments when they import their own
feed. An imported appointment the person deleted stays deleted; one the file cancels
(STATUS:CANCELLED) is deleted.
"""

import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath

from django.core.exceptions import ValidationError
from django.db import transaction

from carnet.core import clock
from carnet.core.crypto import hashes_equal, keyed_hash
from carnet.enrollment.models import Space

from . import ical
from .models import AgendaSettings, Appointment
from .services import AgendaError, AppointmentData, _apply, _audit, reminder_delay

FEED_PURPOSE = "agenda-feed"
TOKEN_MAX_LENGTH = 128  # ours are 43 characters: longer ones are not looked up


def _active(space) -> None:
    if space.state != Space.State.ACTIVE:
        raise AgendaError("Votre espace n'est pas actif : l'agenda ne peut pas être modifié.")


# --- The subscription address ----------------------------------------------------------------


def feed_token_create(*, user, space, client: str = "") -> str:
    """A new secret address; the previous one, if any, stops at once. Returns the token (in
    clear, to show once)."""
    _active(space)
    token = secrets.token_urlsafe(32)
    now = clock.now()
    with transaction.atomic():
        row, _ = AgendaSettings.objects.select_for_update().get_or_create(space=space)
        renewed = bool(row.feed_token_hash)
        row.feed_token_hash = keyed_hash(token, purpose=FEED_PURPOSE)
        row.feed_created_at = row.updated_at = now
        row.save(update_fields=["feed_token_hash", "feed_created_at", "updated_at"])
        _audit(user.actor, space, "agenda_abonnement_cree", client=client, renouvellement=renewed)
    return token


def feed_revoke(*, user, space, client: str = "") -> bool:
    """ "Désactiver": the address stops at once. False if there was none (nothing written)."""
    with transaction.atomic():
        row = AgendaSettings.objects.select_for_update().filter(space=space).first()
        if row is None or not row.feed_token_hash:
            return False
        row.feed_token_hash, row.feed_created_at, row.updated_at = "", None, clock.now()
        row.save(update_fields=["feed_token_hash", "feed_created_at", "updated_at"])
        _audit(user.actor, space, "agenda_abonnement_revoque", client=client)
    return True


def feed_active_since(space) -> datetime | None:
    """When the current address was made, None when there is none."""
    row = AgendaSettings.objects.filter(space=space).only("feed_token_hash", "feed_created_at")
    found = row.first()
    if found is None or not found.feed_token_hash:
        return None
    return found.feed_created_at


def feed_space(token: str) -> Space | None:
    """The active space whose address holds this token, else None (unknown, replaced, revoked,
    space no longer active: all alike). Looked up by its keyed hash: the time taken says nothing
    of how close a guess was."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    digest = keyed_hash(token, purpose=FEED_PURPOSE)
    row = (
        AgendaSettings.objects.filter(feed_token_hash=digest, space__state=Space.State.ACTIVE)
        .select_related("space")
        .first()
    )
    if row is None or not hashes_equal(row.feed_token_hash, digest):
        return None
    from carnet.accounts.models import User

    # A suspended or closed account's address stops with it.
    if not User.objects.filter(person_id=row.space.person_id, is_active=True).exists():
        return None
    return row.space


# --- Import of a .ics file --------------------------------------------------------------------

# Why an event of the file did not become an appointment, in the person's words.
SKIPPED = {
    "journee": "sur une journée entière, sans heure",
    "repete": "répétés (importez plutôt chaque rendez-vous, ou ajoutez-les vous-même)",
    "carnet": "rappels ou prévention de l'agenda Carnet (ce ne sont pas des rendez-vous)",
    "deja": "déjà dans votre agenda",
    "supprime": "supprimés par vous après un import précédent",
    "annule": "annulés",
    "double": "en double dans le fichier",
}


@dataclass(frozen=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0  # imported before, cancelled in the file: removed from the agenda
    skipped_by: dict[str, int] = field(default_factory=dict)  # SKIPPED key → count

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by.values())

    def summary(self) -> str:
        """« Import terminé : 3 rendez-vous ajoutés, 1 rendez-vous modifié. 2 événements non
        importés : … »"""

        def count(n: int, what: str) -> str:
            return f"{n} rendez-vous {what}{'s' if n > 1 else ''}"

        parts = []
        if self.created:
            parts.append(count(self.created, "ajouté"))
        if self.updated:
            parts.append(count(self.updated, "modifié"))
        if self.cancelled:
            parts.append(
                count(self.cancelled, "annulé")
                + " dans le fichier et retiré"
                + ("s" if self.cancelled > 1 else "")
                + " de votre agenda"
            )
        if self.unchanged:
            parts.append(f"{self.unchanged} rendez-vous déjà à jour")
        text = f"Import terminé : {', '.join(parts) or 'aucun rendez-vous importé'}."
        if self.skipped:
            reasons = "; ".join(f"{n} {SKIPPED[key]}" for key, n in self.skipped_by.items())
            plural = "s" if self.skipped > 1 else ""
            text += f" {self.skipped} événement{plural} non importé{plural} : {reasons}."
        return text


def source_name(parsed: ical.ParsedCalendar, filename: str) -> str:
    """The calendar's name, else its product's owner, else the file name: « Doctolib » (the
    agenda shows « Importé de Doctolib »)."""
    limit = Appointment._meta.get_field("source_name").max_length
    stem = PureWindowsPath(PurePosixPath(filename or "").name).name
    stem = stem[:-4] if stem.lower().endswith(".ics") else stem
    stem = " ".join("".join(c for c in stem if c.isprintable()).split())
    return (parsed.name or parsed.product or stem)[:limit]  # "" : shown as « Importé »


def _own_uids(space, events) -> set[str]:
    """The UIDs of the file that are appointments of this very space (its own feed)."""
    ids = {}
    for event in events:
        local, _, domain = event.uid.rpartition("@")
        if domain == ical.UID_DOMAIN:
            try:
                ids[uuid.UUID(local)] = event.uid
            except ValueError:
                continue
    found = Appointment.objects.filter(space=space, public_id__in=list(ids)).values_list(
        "public_id", flat=True
    )
    return {ids[public_id] for public_id in found}


def _existing(space, uids: list[str]) -> dict[str, Appointment]:
    rows = {}
    for i in range(0, len(uids), 500):  # within every database's limit on parameters
        chunk = uids[i : i + 500]
        for row in Appointment.objects.filter(
            space=space, source=Appointment.Source.IMPORT, external_uid__in=chunk
        ):
            rows[row.external_uid] = row
    return rows


FIELDS = ("title", "starts_at", "ends_at", "place", "professional_name", "notes")


def _data(event: ical.ImportedEvent) -> AppointmentData:
    return AppointmentData(
        starts_at=event.starts_at,
        title=event.title,
        ends_at=event.ends_at,
        professional_name=event.professional_name,
        place=event.place,
        notes=event.notes,
    )


def _check(appointment: Appointment) -> None:
    try:
        appointment.full_clean(
            exclude=["space", "author", "professional"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:  # the parser keeps to our lengths: should not happen
        raise ical.IcsError(ical.BROKEN) from exc


def ics_import(*, user, space, data: bytes, filename: str = "", client: str = "") -> ImportResult:
    """*Importer un fichier .ics*: every timed event becomes an appointment noted as imported
    from the file's calendar; a new import of the same calendar updates them. All or nothing."""
    _active(space)
    parsed = ical.parse_ics(data)
    source = source_name(parsed, filename)
    try:
        return _import(user, space, parsed, source, client)
    except ical.IcsError:
        raise
    except AgendaError as exc:  # an event the agenda refuses (a date out of range…): the file's
        raise ical.IcsError(f"Ce fichier ne peut pas être importé : {exc}") from exc


def _import(user, space, parsed, source: str, client: str) -> ImportResult:
    now = clock.now()
    delay = reminder_delay(space)
    skipped: Counter[str] = Counter()
    created = updated = unchanged = cancelled = 0
    with transaction.atomic():
        # Under the space's lock: the same file sent twice at once is imported once, and a
        # closure committed since the caller read the space is seen.
        _active(Space.objects.select_for_update(no_key=True).only("state").get(pk=space.pk))
        own = _own_uids(space, parsed.events)
        existing = _existing(space, [e.uid for e in parsed.events])
        seen: set[str] = set()
        new_rows = []
        for event in parsed.events:
            if event.uid in seen:
                skipped["double"] += 1
                continue
            seen.add(event.uid)
            row = existing.get(event.uid)
            if event.carnet_kind in (ical.KIND_REMINDER, ical.KIND_PREVENTION):
                skipped["carnet"] += 1
            elif event.uid in own:
                skipped["deja"] += 1
            elif row is not None and row.deleted_at is not None:
                skipped["supprime"] += 1  # the person's choice outlives the file
            elif event.cancelled:
                if row is None:
                    skipped["annule"] += 1
                else:
                    row.deleted_at = row.updated_at = now
                    row.save(update_fields=["deleted_at", "updated_at"])
                    cancelled += 1
            elif event.recurring:
                skipped["repete"] += 1
            elif event.all_day:
                skipped["journee"] += 1
            elif row is None:
                row = Appointment(
                    space=space,
                    source=Appointment.Source.IMPORT,
                    source_name=source,
                    external_uid=event.uid,
                    author=user,
                    created_at=now,
                    updated_at=now,
                )
                _apply(row, _data(event), delay)
                _check(row)
                new_rows.append(row)
                created += 1
            elif all(getattr(row, name) == getattr(event, name) for name in FIELDS):
                unchanged += 1
            else:
                moved = row.starts_at != event.starts_at
                notified_at = row.notified_at
                _apply(row, _data(event), delay)
                if not moved:  # same moment: its reminder, if sent, is not sent again
                    row.notified_at = notified_at
                row.source_name, row.updated_at = source, now
                _check(row)
                row.save()
                updated += 1
        Appointment.objects.bulk_create(new_rows)
        result = ImportResult(created, updated, unchanged, cancelled, dict(skipped))
        _audit(
            user.actor,
            space,
            "agenda_import",
            client=client,
            ajoutes=created,
            modifies=updated,
            inchanges=unchanged,
            annules=cancelled,
            ignores=result.skipped,
        )
    return result
