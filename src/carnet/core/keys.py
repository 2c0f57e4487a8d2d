"""Per-space data keys: created wrapped, unwrapped on use, destroyed on purge (crypto-shredding)."""

import os

from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.db import transaction

from . import clock, crypto
from .models import DataKey


class KeyDestroyed(Exception):
    """The data key was destroyed: the data it protected is gone for good."""


class KekUnavailable(Exception):
    """A key-encryption key that wraps live data keys is absent from CARNET_KEYS, or wrong."""


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


def data_keys_rewrap(*, batch_size: int = 500) -> int:
    """Re-wrap every live data key under the newest key-encryption key (blobs untouched).

    Checks first that every key-encryption key still in use is in CARNET_KEYS, so that a
    missing one stops the rotation before anything changes. Each key is updated on its own
    and only if still live and unchanged: a run can stop anywhere and be run again, and a key
    destroyed meanwhile by a purge is never brought back.
    """
    newest = crypto.current_kek_id()
    live = DataKey.objects.exclude(kek_id=newest).filter(wrapped__isnull=False)
    in_use = set(live.order_by().values_list("kek_id", flat=True).distinct())
    missing = sorted(in_use - set(settings.CARNET_KEYS))
    if missing:
        raise KekUnavailable(", ".join(missing))
    count = 0
    last_pk = None
    while True:
        # Batches by primary key, read before writing: no cursor stays open over updated rows.
        page = live.order_by("pk")
        if last_pk is not None:
            page = page.filter(pk__gt=last_pk)
        batch = list(page.values_list("pk", "kek_id", "wrapped")[:batch_size])
        if not batch:
            return count
        for pk, kek_id, wrapped in batch:
            try:
                material = crypto.unwrap_key(kek_id, bytes(wrapped))
            except (KeyError, InvalidTag) as exc:
                raise KekUnavailable(kek_id) from exc
            new_kek_id, new_wrapped = crypto.wrap_key(material, kek_id=newest)
            count += DataKey.objects.filter(pk=pk, kek_id=kek_id, wrapped__isnull=False).update(
                kek_id=new_kek_id, wrapped=new_wrapped
            )
        last_pk = batch[-1][0]
