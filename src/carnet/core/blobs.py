"""The encrypted blob store (DESIGN invariants 3 and 5).

A blob is AES-256-GCM ciphertext under its space's data key, stored under a random name in
the configured store (`core.stores`). The file is durable before its row is inserted, so a
crash leaves at worst an unreferenced file, which `orphans_sweep` removes after an hour.
Reading checks the GCM tag and the plaintext's SHA-256: a damaged blob is never served.
"""

import hashlib
import logging
import secrets

from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.db import transaction

from . import clock, crypto
from .keys import data_key_material
from .models import Blob, DataKey
from .stores import BlobMissing, blob_store, is_temporary

log = logging.getLogger(__name__)


class BlobCorrupted(Exception):
    """The stored file is missing or failed its integrity check: it must not be served."""


def blob_put(*, data_key: DataKey, plaintext: bytes) -> Blob:
    """Encrypt and store; the file is durable before the row is inserted. Call it inside the
    transaction that creates the row pointing to the blob: a rollback leaves only an orphan."""
    blob = blob_seal(data_key=data_key, plaintext=plaintext)
    blob.save(force_insert=True)
    return blob


def blob_seal(*, data_key: DataKey, plaintext: bytes) -> Blob:
    """Encrypt and store the file (durable when this returns); the row is returned unsaved, for
    the caller to insert in its transaction. Sealing before the transaction keeps the file's
    writes and syncs out of it (SQLite holds its one write lock from the first write)."""
    key = secrets.token_hex(32)  # random: never derived from a title or a person
    sealed = crypto.encrypt(data_key_material(data_key), plaintext, aad=key.encode())
    blob_store().write(key, sealed)
    return Blob(
        key=key,
        data_key=data_key,
        size=len(plaintext),
        sha256=hashlib.sha256(plaintext).hexdigest(),
        created_at=clock.now(),
    )


def blob_read(blob: Blob) -> bytes:
    """The plaintext, verified (GCM tag, then SHA-256); raises BlobCorrupted otherwise."""
    try:
        sealed = blob_store().read(blob.key)
    except (BlobMissing, OSError) as exc:
        raise BlobCorrupted(blob.key) from exc
    material = data_key_material(blob.data_key)  # raises KeyDestroyed after a purge
    try:
        plaintext = crypto.decrypt(material, sealed, aad=blob.key.encode())
    except (InvalidTag, ValueError) as exc:
        raise BlobCorrupted(blob.key) from exc
    del sealed
    if hashlib.sha256(plaintext).hexdigest() != blob.sha256:
        raise BlobCorrupted(blob.key)
    return plaintext


def blobs_delete(keys: list[str]) -> None:
    """Delete rows now and files once the transaction commits (a rollback keeps both)."""
    Blob.objects.filter(key__in=keys).delete()

    def unlink():
        # The rows are gone for good by now: a file that cannot be deleted (store down) must
        # not fail the committed request nor stop the others; the sweep removes it later.
        store = blob_store()
        for key in keys:
            try:
                store.delete(key)
            except Exception:
                log.exception("blob %s: deletion failed, left to the orphan sweep", key)

    transaction.on_commit(unlink)


def blobs_delete_for_key(data_key: DataKey) -> int:
    """Delete every blob of a data key (files after the rows are gone, on commit)."""
    keys = list(Blob.objects.filter(data_key=data_key).values_list("key", flat=True))
    blobs_delete(keys)
    return len(keys)


def blob_exists_on_disk(key: str) -> bool:
    return blob_store().exists(key)


def orphans_sweep() -> int:
    """Delete stored files older than ORPHAN_BLOB_AGE that no row references (crash leftovers).

    The age keeps in-flight uploads safe: their file is written just before their row, in a
    transaction far shorter than an hour. Ages are file times against `clock.now()`."""
    cutoff = clock.now() - settings.CARNET["ORPHAN_BLOB_AGE"]
    store = blob_store()
    removed = 0
    batch: list[str] = []

    def flush():
        nonlocal removed
        known = set(Blob.objects.filter(key__in=batch).values_list("key", flat=True))
        for name in batch:
            if name not in known:
                store.delete(name)
                removed += 1
        batch.clear()

    for name, modified in store.listing():
        if modified is not None and modified > cutoff:
            continue
        if is_temporary(name):  # a write that never reached its rename
            store.delete(name)
            removed += 1
            continue
        batch.append(name)
        if len(batch) >= 500:
            flush()
    if batch:
        flush()
    return removed
