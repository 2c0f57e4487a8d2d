"""The streamed writes and reads the exports need from the blob stores (`core.stores`), on the
local directory and on a real S3 server (moto's, as tests/core/test_stores.py): whole or
nothing, never held in memory whole; and a whole export through S3."""

import os
import secrets

import pytest

from carnet.core.stores import BlobMissing, LocalStore, blob_store
from carnet.exports import services
from carnet.exports.models import Export
from tests.core.test_stores import s3_bucket, s3_server  # noqa: F401 (fixtures)

from .conftest import download, latest, opened, reauthenticated, sha256

MIB = 1024 * 1024


def chunks(total: int, size: int = MIB):
    for start in range(0, total, size):
        yield os.urandom(min(size, total - start))


def test_local_streamed_write_is_whole_or_nothing(tmp_path):
    store = LocalStore(tmp_path)
    name = secrets.token_hex(32)
    data = b"".join(chunks(3 * MIB + 5))
    assert store.write_stream(name, (data[i : i + 1000] for i in range(0, len(data), 1000))) == len(
        data
    )
    assert b"".join(store.read_stream(name, 4096)) == data

    def failing():
        yield b"x" * 1000
        raise OSError("disque plein")

    other = secrets.token_hex(32)
    with pytest.raises(OSError):
        store.write_stream(other, failing())
    assert not store.exists(other)
    assert not list(tmp_path.rglob(".tmp-*"))
    with pytest.raises(BlobMissing):
        store.read_stream(other)


def test_s3_streamed_write_in_parts_and_abort(s3_bucket, settings):  # noqa: F811
    store = blob_store()
    name = secrets.token_hex(32)
    data = b"".join(chunks(11 * MIB + 123))
    assert store.write_stream(name, chunks_of(data), part_size=5 * MIB) == len(data)
    assert sha256(b"".join(store.read_stream(name, MIB))) == sha256(data)
    assert s3_bucket.get(name) == data

    def failing():
        yield os.urandom(6 * MIB)  # one part sent
        raise OSError("coupure")

    other = secrets.token_hex(32)
    with pytest.raises(OSError):
        store.write_stream(other, failing(), part_size=5 * MIB)
    assert other not in s3_bucket.keys()
    uploads = s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name)
    assert not uploads.get("Uploads")  # aborted, nothing billed nor left behind
    with pytest.raises(BlobMissing):
        store.read_stream(other)


def chunks_of(data: bytes, size: int = 700_000):
    return (data[i : i + size] for i in range(0, len(data), size))


@pytest.mark.django_db
def test_an_export_through_s3(
    s3_bucket, alice_client, alice, alice_space, alice_docs,  # noqa: F811
    django_capture_on_commit_callbacks,
):  # fmt: skip
    from .conftest import ask

    ask(alice_client, django_capture_on_commit_callbacks, [alice_space])
    export = latest(alice)
    assert export.status == Export.Status.READY
    assert export.blob_id in s3_bucket.keys()
    assert not s3_bucket.get(export.blob_id).startswith(b"PK")
    reauthenticated(alice_client)
    archive = opened(download(alice_client, export))
    assert len([n for n in archive.namelist() if "/documents/" in n]) == 3
    assert services.export_build(export.pk) == "ignore"
