"""The encrypted blob store: local filesystem under BLOB_DIR (S3-compatible storage comes with
the documents capability). Writes are atomic and durable before the row that points to them."""

import hashlib
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.db import transaction

from . import clock, crypto
from .keys import data_key_material
from .models import Blob, DataKey


class BlobCorrupted(Exception):
    """The stored file failed its integrity check and must not be served."""


def _path(key: str) -> Path:
    return Path(settings.BLOB_DIR) / key[:2] / key


def _write_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def blob_put(*, data_key: DataKey, plaintext: bytes) -> Blob:
    """Encrypt and store; the file is on disk and synced before the row is inserted."""
    key = secrets.token_hex(32)  # random: never derived from a title or a person
    sealed = crypto.encrypt(data_key_material(data_key), plaintext, aad=key.encode())
    _write_durably(_path(key), sealed)
    return Blob.objects.create(
        key=key,
        data_key=data_key,
        size=len(plaintext),
        sha256=hashlib.sha256(plaintext).hexdigest(),
        created_at=clock.now(),
    )


def blob_read(blob: Blob) -> bytes:
    try:
        sealed = _path(blob.key).read_bytes()
    except OSError as exc:
        raise BlobCorrupted(blob.key) from exc
    material = data_key_material(blob.data_key)  # raises KeyDestroyed after a purge
    try:
        plaintext = crypto.decrypt(material, sealed, aad=blob.key.encode())
    except InvalidTag as exc:
        raise BlobCorrupted(blob.key) from exc
    if hashlib.sha256(plaintext).hexdigest() != blob.sha256:
        raise BlobCorrupted(blob.key)
    return plaintext


def blobs_delete_for_key(data_key: DataKey) -> int:
    """Delete every blob of a data key (files after the rows are gone, on commit)."""
    keys = list(Blob.objects.filter(data_key=data_key).values_list("key", flat=True))
    Blob.objects.filter(key__in=keys).delete()

    def unlink():
        for key in keys:
            _path(key).unlink(missing_ok=True)

    transaction.on_commit(unlink)
    return len(keys)


def blob_exists_on_disk(key: str) -> bool:
    return _path(key).exists()


def orphans_sweep() -> int:
    """Delete files older than ORPHAN_BLOB_AGE that no row references (crash leftovers)."""
    root = Path(settings.BLOB_DIR)
    if not root.exists():
        return 0
    cutoff = (clock.now() - settings.CARNET["ORPHAN_BLOB_AGE"]).timestamp()
    removed = 0
    for path in root.glob("*/*"):
        try:
            if path.stat().st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue  # removed meanwhile by a purge or a concurrent sweep
        if path.name.startswith(".tmp-") or not Blob.objects.filter(key=path.name).exists():
            path.unlink(missing_ok=True)
            removed += 1
    return removed
