"""« Télécharger mes données »: ask for an export, build it (the worker), download it, sweep.

The life of an export (`models.Export`):
- `export_request` checks who may export what (the holder, a legal representative or a
  guardian; never a caregiver: refused here, not only hidden), one export in progress per
  account and EXPORT_COOLDOWN between two, records it and its audit events, and queues the build
  once committed.
- `export_build` (the worker) claims the export with a token, streams the ZIP (`archive`) through
  the chunked encryption (`stream`) into the blob store under a fresh data key, and only then,
  in one transaction, inserts the `core.Blob` row and makes the export `prete` (and the email,
  through the outbox, says so, never what it holds). A build that fails gives its turn back;
  a build that stops (a crash) goes silent, and `exports_sweep` (in `carnet tick`) hands it to
  the worker again after EXPORT_STALE_AFTER, EXPORT_MAX_ATTEMPTS times at most, then marks it
  `echec`: it can be asked again. A half-written file is never offered: the row that offers it
  is written after the file is durable, by the build that still holds the token.
- `export_download` audits the download in each space of the export and streams the file back,
  decrypted and checked chunk by chunk.
- `exports_sweep` also deletes expired exports' files and destroys their keys.
"""

import hashlib
import logging
import os
import secrets
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from carnet.audit.services import Entry as AuditEntry
from carnet.audit.services import events_record
from carnet.core import blobs, clock, keys
from carnet.core.models import Blob
from carnet.core.stores import BlobMissing, blob_store

from . import selectors, stream
from .archive import Archive
from .models import Export

log = logging.getLogger(__name__)

# A build says it is alive this often (well under EXPORT_STALE_AFTER, minutes).
HEARTBEAT_SECONDS = 30
READY_SMS = (
    "Carnet : l'export de vos données est prêt. Connectez-vous pour le télécharger "
    "(Paramètres, « Télécharger mes données »)."
)
FAILED_SMS = (
    "Carnet : l'export de vos données n'a pas pu être préparé. Vous pouvez le demander à "
    "nouveau depuis vos paramètres."
)


class ExportRefused(Exception):
    """The request cannot be taken now; the message says why, in French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ExportUnreadable(Exception):
    """The stored file is missing or fails its first check: reported, never served."""


class Superseded(Exception):
    """This build lost its token (taken over after going silent, or withdrawn): it stops."""


def _limits():
    return settings.CARNET


def _audit(user, spaces, action: str, export: Export, client: str = "") -> None:
    events_record(
        [
            AuditEntry(
                actor=user.actor,
                action=action,
                space_id=space.public_id,
                object_type="export",
                object_id=str(export.public_id),
                client=client,
            )
            for space in spaces
        ]
    )


def _notify(user, template: str, sms_text: str, **context) -> None:
    """Email (or SMS without a verified email): that the export is ready or failed, and
    where; never which profiles or what it holds (DESIGN invariant 7)."""
    from django.urls import reverse

    from carnet.accounts.services import notify

    url = f"{settings.SERVICE_URL}{reverse('exports:index')}"
    notify(user, template, kind=template, sms_text=sms_text, url=url, **context)


# --- Asking ----------------------------------------------------------------------------------


def request_refusal(user) -> str:
    """Why `user` cannot ask for an export now (French), or "" if they can."""
    latest = (
        Export.objects.filter(user=user)
        .exclude(status=Export.Status.FAILED)
        .order_by("-requested_at", "-id")
        .first()
    )
    if latest is None:
        return ""
    if latest.in_progress:
        return (
            "Un export est déjà en préparation. Vous recevrez un e-mail dès qu'il sera prêt ; "
            "vous pourrez alors en demander un autre."
        )
    next_at = latest.requested_at + _limits()["EXPORT_COOLDOWN"]
    if clock.now() < next_at:
        return (
            "Vous avez déjà demandé un export récemment. Vous pourrez en demander un nouveau à "
            f"partir du {clock.localtime_fr(next_at)}."
        )
    return ""


def export_request(*, user, spaces, client: str = "") -> Export:
    """Ask for an export of `spaces`; raises PermissionDenied for a space `user` may not
    export (a caregiver's, another person's), ExportRefused for a limit."""
    spaces = list(spaces)
    if not spaces:
        raise ExportRefused("Choisissez au moins un profil à exporter.")
    for space in spaces:
        if not selectors.may_export(user, space):
            raise PermissionDenied("Seuls le titulaire et ses représentants exportent un espace.")
    now = clock.now()
    try:
        with transaction.atomic():
            refusal = request_refusal(user)
            if refusal:
                raise ExportRefused(refusal)
            export = Export.objects.create(user=user, requested_at=now, queued_at=now)
            export.spaces.set(spaces)
            _audit(user, spaces, "export_demande", export, client)
            transaction.on_commit(lambda: _enqueue(export.pk))
    except IntegrityError as exc:  # a request racing this one won (one in progress at most)
        raise ExportRefused(
            "Un export est déjà en préparation. Vous recevrez un e-mail dès qu'il sera prêt."
        ) from exc
    return export


def _enqueue(export_pk: int) -> None:
    from .tasks import build_export

    build_export.enqueue(export_pk)


# --- Building (the worker) ------------------------------------------------------------------


def _claim(export_pk: int, token: str) -> Export | None:
    """Take the build: asked for and not started, or started and silent (its worker died).
    One conditional update, so two workers never build the same export."""
    now = clock.now()
    stale = now - _limits()["EXPORT_STALE_AFTER"]
    claimable = Export.objects.filter(pk=export_pk).filter(
        Q(status=Export.Status.REQUESTED)
        | Q(status=Export.Status.BUILDING, heartbeat_at__isnull=True)
        | Q(status=Export.Status.BUILDING, heartbeat_at__lt=stale)
    )
    found = claimable.only("attempts", "data_key").first()
    if found is None:
        return None
    if found.attempts >= _limits()["EXPORT_MAX_ATTEMPTS"]:
        _fail(found.pk)
        return None
    data_key = keys.data_key_create()
    with transaction.atomic():
        claimed = claimable.filter(attempts=found.attempts).update(
            status=Export.Status.BUILDING,
            attempts=F("attempts") + 1,
            token=token,
            heartbeat_at=now,
            data_key=data_key,
        )
        if not claimed:
            keys.data_key_destroy(data_key)  # never used
            return None
        if found.data_key_id is not None:
            keys.data_key_destroy(found.data_key)  # the abandoned build's key: its file is gone
    return Export.objects.select_related("user__person", "data_key").get(pk=export_pk)


def _alive(export_pk: int, token: str) -> bool:
    return bool(
        Export.objects.filter(pk=export_pk, token=token, status=Export.Status.BUILDING).update(
            heartbeat_at=clock.now()
        )
    )


def _still_allowed_spaces(export: Export) -> list:
    """The export's spaces its account may still export, marked for reading as theirs; the
    others (a link ended since the request) are dropped from the export."""
    spaces = list(export.spaces.select_related("person").order_by("id"))
    allowed = [s for s in spaces if selectors.may_export(export.user, s)]
    if len(allowed) != len(spaces):
        export.spaces.set(allowed)
    own = [s for s in allowed if s.person_id == export.user.person_id]
    others = [s for s in allowed if s.person_id != export.user.person_id]
    return [selectors.as_read_by(export.user, s) for s in own + others]


def export_build(export_pk: int) -> str:
    """Build the export (the worker's task); idempotent: an export already built, being built
    by a live worker, expired or failed is left as it is. Returns what happened, in one word."""
    token = secrets.token_hex(16)
    export = _claim(export_pk, token)
    if export is None:
        return "ignore"
    spaces = _still_allowed_spaces(export)
    if not spaces:
        _fail(export.pk, token=token)
        return "echec"
    last_beat = time.monotonic()

    def beat() -> None:
        nonlocal last_beat
        if time.monotonic() - last_beat < HEARTBEAT_SECONDS:
            return
        last_beat = time.monotonic()
        if not _alive(export.pk, token):
            raise Superseded(str(export.public_id))

    archive = Archive(user=export.user, spaces=spaces, beat=beat)
    digest = hashlib.sha256()
    size = 0

    def plaintext() -> Iterator[bytes]:
        nonlocal size
        for piece in archive.pieces():
            digest.update(piece)
            size += len(piece)
            yield piece

    name = secrets.token_hex(32)  # random, like every blob's: nothing of the person in it
    sealed = stream.encrypt_chunks(
        keys.data_key_material(export.data_key),
        plaintext(),
        name=name,
        chunk_size=_limits()["EXPORT_CHUNK_BYTES"],
        prefix=os.urandom(stream.PREFIX),
    )
    store = blob_store()
    try:
        store.write_stream(name, sealed)  # durable when it returns; nothing left if it raises
    except Superseded:
        log.warning("export %s: build superseded, stopped", export.public_id)
        return "remplace"
    except Exception:
        log.exception("export %s: build failed (attempt %s)", export.public_id, export.attempts)
        # Its turn given back: the sweep hands it to the worker again after EXPORT_STALE_AFTER.
        Export.objects.filter(pk=export.pk, token=token, status=Export.Status.BUILDING).update(
            heartbeat_at=None, queued_at=clock.now()
        )
        return "erreur"
    try:
        _finish(export, token, name, size=size, sha256=digest.hexdigest(), archive=archive)
    except Superseded:
        store.delete(name)  # not ours to offer any more (taken over or withdrawn)
        return "remplace"
    return "prete"


def _finish(export: Export, token: str, name: str, *, size: int, sha256: str, archive) -> None:
    """The file is durable: its row, and the export offered, in one transaction, only if this
    build still holds the token. An older ready export of the account is expired (one file)."""
    now = clock.now()
    with transaction.atomic():
        blob = Blob(key=name, data_key=export.data_key, size=size, sha256=sha256, created_at=now)
        blob.save(force_insert=True)
        offered = Export.objects.filter(
            pk=export.pk, token=token, status=Export.Status.BUILDING
        ).update(
            status=Export.Status.READY,
            blob=blob,
            ready_at=now,
            expires_at=now + _limits()["EXPORT_VALIDITY"],
            heartbeat_at=None,
            documents=archive.documents,
            unreadable=len(archive.skipped),
        )
        if not offered:
            raise Superseded(str(export.public_id))  # rolls the row back; the caller drops the file
        older = Export.objects.filter(user=export.user, status=Export.Status.READY).exclude(
            pk=export.pk
        )
        for previous in older:
            _end(previous)
        until = clock.localtime_fr(now + _limits()["EXPORT_VALIDITY"])
        _notify(export.user, "export_pret", READY_SMS, until=until)


def _fail(export_pk: int, *, token: str | None = None) -> bool:
    """No more builds: `echec`, its key destroyed, the account told it may ask again."""
    with transaction.atomic():
        rows = Export.objects.filter(pk=export_pk, status__in=Export.IN_PROGRESS)
        if token is not None:
            rows = rows.filter(token=token)
        export = rows.select_related("user", "data_key").first()
        if export is None:
            return False
        if not rows.update(status=Export.Status.FAILED, ended_at=clock.now(), heartbeat_at=None):
            return False
        if export.data_key_id is not None:
            keys.data_key_destroy(export.data_key)
        _notify(export.user, "export_echec", FAILED_SMS)
    return True


def _end(export: Export) -> bool:
    """Expired or withdrawn: not offered any more, its file deleted once this commits and its
    key destroyed (what is left of the file, anywhere, can no longer be read)."""
    with transaction.atomic():
        ended = Export.objects.filter(
            pk=export.pk, status__in=(*Export.IN_PROGRESS, Export.Status.READY)
        ).update(status=Export.Status.EXPIRED, blob=None, ended_at=clock.now(), token="")
        if not ended:
            return False
        if export.blob_id:
            blobs.blobs_delete([export.blob_id])
        if export.data_key_id is not None:
            keys.data_key_destroy(export.data_key)
    return True


# --- Downloading -----------------------------------------------------------------------------


def export_download(*, user, export: Export, client: str = "") -> Iterator[bytes]:
    """The ZIP, decrypted and checked as it is sent; the download is in the trail of each space
    of the export. The first chunk is checked before anything is sent or audited: a missing or
    damaged file is an ExportUnreadable, never a broken download."""
    try:
        material = keys.data_key_material(export.data_key)
        sealed = blob_store().read_stream(export.blob_id)
        plain = stream.decrypt_chunks(material, sealed, name=export.blob_id)
        first = next(plain)
    except (BlobMissing, OSError, keys.KeyDestroyed, stream.StreamCorrupted) as exc:
        log.error("export %s: stored file unreadable", export.public_id)
        raise ExportUnreadable(str(export.public_id)) from exc
    with transaction.atomic():
        _audit(user, list(export.spaces.all()), "export_telechargement", export, client)
        Export.objects.filter(pk=export.pk).update(downloads=F("downloads") + 1)
    return _checked(export, first, plain)


def _checked(export: Export, first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    """Every chunk's tag is checked by `stream`; the whole file's SHA-256 at the end too. A
    failure stops the response short of its Content-Length: the browser reports a failed
    download, never a complete-looking damaged file."""
    digest = hashlib.sha256(first)
    yield first
    try:
        for chunk in rest:
            digest.update(chunk)
            yield chunk
    except stream.StreamCorrupted:
        log.error("export %s: stored file damaged, download cut short", export.public_id)
        raise
    if digest.hexdigest() != export.blob.sha256:
        log.error("export %s: SHA-256 mismatch, download cut short", export.public_id)
        raise stream.StreamCorrupted("empreinte")


# --- Sweeps and purges -----------------------------------------------------------------------


def exports_sweep(*, batch_size: int = 100) -> int:
    """`carnet tick`: builds that went silent (a crash) or gave their turn back are handed to the
    worker again, or failed after EXPORT_MAX_ATTEMPTS; expired exports' files are deleted.
    Each step is a conditional update: two sweeps at once do each thing once."""
    now = clock.now()
    stale = now - _limits()["EXPORT_STALE_AFTER"]
    done = 0
    due = list(
        Export.objects.filter(queued_at__lt=stale)
        .filter(
            Q(status=Export.Status.REQUESTED)
            | Q(status=Export.Status.BUILDING, heartbeat_at__isnull=True)
            | Q(status=Export.Status.BUILDING, heartbeat_at__lt=stale)
        )
        .order_by("queued_at", "id")
        .values_list("pk", "queued_at", "attempts")[:batch_size]
    )
    for pk, queued_at, attempts in due:
        if attempts >= _limits()["EXPORT_MAX_ATTEMPTS"]:
            done += _fail(pk)
            continue
        if Export.objects.filter(pk=pk, queued_at=queued_at).update(queued_at=now):
            log.info("export %s: build handed to the worker again", pk)
            _enqueue(pk)
            done += 1
    expired = Export.objects.filter(status=Export.Status.READY, expires_at__lte=now).order_by(
        "expires_at", "id"
    )[:batch_size]
    for export in list(expired.select_related("data_key")):
        done += _end(export)
    return done


def space_exports_withdraw(*, space, **_) -> int:
    """The space's purge (enrollment signal): every export holding it goes at once."""
    exports = Export.objects.filter(
        spaces=space, status__in=(*Export.IN_PROGRESS, Export.Status.READY)
    ).select_related("data_key")
    return sum(_end(export) for export in list(exports))
