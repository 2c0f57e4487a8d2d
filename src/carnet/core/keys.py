"""Per-space data keys: created wrapped, unwrapped on use, destroyed on purge (crypto-shredding)."""

import os

from django.db import transaction

from . import clock, crypto
from .models import DataKey


class KeyDestroyed(Exception):
    """The data key was destroyed: the data it protected is gone for good."""


def data_key_create() -> DataKey:
    kek_id, wrapped = crypto.wrap_key(os.urandom(32))
    return DataKey.objects.create(kek_id=kek_id, wrapped=wrapped, created_at=clock.now())


def data_key_material(data_key: DataKey) -> bytes:
    if data_key.wrapped is None:
        raise KeyDestroyed(str(data_key.id))
    return crypto.unwrap_key(data_key.kek_id, bytes(data_key.wrapped))


def data_key_destroy(data_key: DataKey) -> None:
    with transaction.atomic():
        DataKey.objects.filter(pk=data_key.pk).update(wrapped=None, destroyed_at=clock.now())
    data_key.wrapped = None


def data_keys_rewrap() -> int:
    """Re-wrap every live data key under the newest key-encryption key (blobs untouched)."""
    newest = crypto.current_kek_id()
    count = 0
    for dk in DataKey.objects.exclude(kek_id=newest).filter(wrapped__isnull=False).iterator():
        material = crypto.unwrap_key(dk.kek_id, bytes(dk.wrapped))
        kek_id, wrapped = crypto.wrap_key(material, kek_id=newest)
        DataKey.objects.filter(pk=dk.pk).update(kek_id=kek_id, wrapped=wrapped)
        count += 1
    return count
