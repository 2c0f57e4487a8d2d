"""The encrypted blob store and the data keys: encryption at rest, integrity, orphans,
re-wrapping under a new key-encryption key, crypto-shredding."""

import base64
import os
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from carnet.core import blobs, clock, keys
from carnet.core.models import Blob, DataKey

pytestmark = pytest.mark.django_db

PLAINTEXT = b"Compte rendu : tension 12/8, rien a signaler. " * 20


@pytest.fixture
def data_key():
    return keys.data_key_create()


def _file(blob) -> Path:
    return Path(settings.BLOB_DIR) / blob.key[:2] / blob.key


def test_round_trip_and_no_plaintext_on_disk(data_key):
    blob = blobs.blob_put(data_key=data_key, plaintext=PLAINTEXT)
    on_disk = _file(blob).read_bytes()
    assert PLAINTEXT[:40] not in on_disk
    assert b"tension" not in on_disk
    assert len(on_disk) == len(PLAINTEXT) + 12 + 16  # nonce + GCM tag
    assert blobs.blob_read(Blob.objects.get(key=blob.key)) == PLAINTEXT
    assert blob.size == len(PLAINTEXT)


def test_same_content_twice_gives_different_files(data_key):
    a = blobs.blob_put(data_key=data_key, plaintext=PLAINTEXT)
    b = blobs.blob_put(data_key=data_key, plaintext=PLAINTEXT)
    assert a.key != b.key
    assert _file(a).read_bytes() != _file(b).read_bytes()


def test_the_wrapped_key_is_not_the_key(data_key):
    material = keys.data_key_material(data_key)
    assert len(material) == 32
    assert material not in bytes(data_key.wrapped)
    assert data_key.kek_id in settings.CARNET_KEYS


@pytest.mark.parametrize("where", [0, 12, 100, -1])  # nonce, start, middle, tag
def test_a_flipped_byte_is_detected(data_key, where):
    blob = blobs.blob_put(data_key=data_key, plaintext=PLAINTEXT)
    path = _file(blob)
    data = bytearray(path.read_bytes())
    data[where] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(blobs.BlobCorrupted):
        blobs.blob_read(blob)


def test_a_missing_file_is_reported_as_corrupted(data_key):
    blob = blobs.blob_put(data_key=data_key, plaintext=PLAINTEXT)
    _file(blob).unlink()
    with pytest.raises(blobs.BlobCorrupted):
        blobs.blob_read(blob)


def test_a_file_swapped_for_another_is_detected(data_key):
    """The key is bound to the ciphertext (associated data): files cannot be swapped."""
    a = blobs.blob_put(data_key=data_key, plaintext=b"premier")
    b = blobs.blob_put(data_key=data_key, plaintext=b"second")
    _file(a).write_bytes(_file(b).read_bytes())
    with pytest.raises(blobs.BlobCorrupted):
        blobs.blob_read(a)


def test_another_spaces_key_cannot_read(data_key):
    blob = blobs.blob_put(data_key=data_key, plaintext=PLAINTEXT)
    other = keys.data_key_create()
    Blob.objects.filter(key=blob.key).update(data_key=other)
    with pytest.raises(blobs.BlobCorrupted):
        blobs.blob_read(Blob.objects.get(key=blob.key))


def test_destroyed_key_cannot_read(data_key):
    blob = blobs.blob_put(data_key=data_key, plaintext=PLAINTEXT)
    keys.data_key_destroy(data_key)
    stored = DataKey.objects.get(pk=data_key.pk)
    assert stored.wrapped is None and stored.destroyed_at is not None
    with pytest.raises(keys.KeyDestroyed):
        blobs.blob_read(Blob.objects.get(key=blob.key))


# --- Orphans ------------------------------------------------------------------------------------


def _orphan(name=None, folder=None) -> Path:
    name = name or secrets.token_hex(32)
    path = Path(settings.BLOB_DIR) / (folder or name[:2]) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"left over by a crash")
    return path


def test_orphans_older_than_an_hour_are_removed_young_ones_kept(data_key):
    kept_blob = blobs.blob_put(data_key=data_key, plaintext=PLAINTEXT)
    old_orphan = _orphan()
    tmp_leftover = _orphan(".tmp-" + secrets.token_hex(4), folder="ab")  # as mkstemp names it
    with clock.travel(timedelta(hours=1, seconds=1)):
        young_orphan = _orphan()
        written = clock.now().timestamp()  # written "now", on the moved clock
        os.utime(young_orphan, (written, written))
        assert blobs.orphans_sweep() == 2
    assert not old_orphan.exists()
    assert not tmp_leftover.exists()
    assert young_orphan.exists()
    assert _file(kept_blob).exists()  # referenced: kept whatever its age
    assert blobs.blob_read(kept_blob) == PLAINTEXT


def test_an_orphan_just_under_an_hour_is_kept():
    orphan = _orphan()
    with clock.travel(timedelta(minutes=59)):
        assert blobs.orphans_sweep() == 0
    assert orphan.exists()


def test_orphan_sweep_without_a_blob_directory(settings, tmp_path):
    settings.BLOB_DIR = tmp_path / "absent"
    assert blobs.orphans_sweep() == 0


def test_old_files_by_mtime_are_orphans_without_moving_the_clock():
    orphan = _orphan()
    two_hours_ago = clock.now().timestamp() - 7200
    os.utime(orphan, (two_hours_ago, two_hours_ago))
    assert blobs.orphans_sweep() == 1


# --- Key rotation ------------------------------------------------------------------------------


def test_rewrap_under_a_second_key_and_blobs_still_read(settings, data_key):
    blob = blobs.blob_put(data_key=data_key, plaintext=PLAINTEXT)
    old_id = data_key.kek_id
    new_key = base64.b64encode(os.urandom(32)).decode()
    settings.CARNET_KEYS = {**settings.CARNET_KEYS, "k-rotation": new_key}

    assert keys.data_keys_rewrap() == 1
    rewrapped = DataKey.objects.get(pk=data_key.pk)
    assert rewrapped.kek_id == "k-rotation"
    assert bytes(rewrapped.wrapped) != bytes(data_key.wrapped)
    assert keys.data_keys_rewrap() == 0  # nothing left under the old key

    # the old key-encryption key can now go: the blob still reads
    settings.CARNET_KEYS = {"k-rotation": new_key}
    assert old_id not in settings.CARNET_KEYS
    assert blobs.blob_read(Blob.objects.get(key=blob.key)) == PLAINTEXT
    # and new data keys are wrapped by the newest key
    assert keys.data_key_create().kek_id == "k-rotation"


def test_rewrap_skips_destroyed_keys(settings, data_key):
    keys.data_key_destroy(data_key)
    settings.CARNET_KEYS = {**settings.CARNET_KEYS, "k2": base64.b64encode(os.urandom(32)).decode()}
    assert keys.data_keys_rewrap() == 0
    assert DataKey.objects.get(pk=data_key.pk).wrapped is None


def test_rewrap_in_batches_reaches_every_key(settings):
    made = [keys.data_key_create() for _ in range(5)]
    settings.CARNET_KEYS = {**settings.CARNET_KEYS, "k2": base64.b64encode(os.urandom(32)).decode()}
    assert keys.data_keys_rewrap(batch_size=2) == 5
    assert set(DataKey.objects.values_list("kek_id", flat=True)) == {"k2"}
    assert all(len(keys.data_key_material(DataKey.objects.get(pk=dk.pk))) == 32 for dk in made)


def test_rewrap_with_a_missing_kek_changes_nothing(settings, data_key):
    old_id = data_key.kek_id
    settings.CARNET_KEYS = {"k2": base64.b64encode(os.urandom(32)).decode()}
    with pytest.raises(keys.KekUnavailable, match=old_id):
        keys.data_keys_rewrap()
    assert DataKey.objects.get(pk=data_key.pk).kek_id == old_id
