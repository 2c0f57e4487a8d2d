"""The two blob stores: the local directory (atomic, synced writes) and S3-compatible object
storage, tested against a real S3 HTTP server (moto's server mode, on loopback)."""

import logging
import os
import secrets
import socket
from datetime import UTC, timedelta
from pathlib import Path

import boto3
import pytest

from carnet.core import blobs, clock, keys, stores
from carnet.core.stores import BlobMissing, LocalStore, S3Store, blob_store, store_from_url

SEALED = b"\x00\x01sealed bytes, already encrypted\xff" * 10


def _name() -> str:
    return secrets.token_hex(32)


# --- A real S3 server --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server on a loopback port: real HTTP, real signatures, real listings."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


class Bucket:
    def __init__(self, endpoint: str, name: str):
        self.name = name
        self.url = f"s3://carnet-test:secret-test@{endpoint}/{name}?region=eu-west-3&secure=0"
        self.client = boto3.client(
            "s3",
            endpoint_url=f"http://{endpoint}",
            aws_access_key_id="carnet-test",
            aws_secret_access_key="secret-test",
            region_name="eu-west-3",
        )
        self.client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
        )

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return sorted(obj["Key"] for obj in listed.get("Contents", []))

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)


@pytest.fixture
def s3_bucket(s3_server, settings):
    """A fresh bucket; STORAGE_URL points at it, so `blob_store()` is the S3 store."""
    bucket = Bucket(s3_server, f"carnet-{secrets.token_hex(6)}")
    settings.STORAGE_URL = bucket.url
    return bucket


# --- LocalStore --------------------------------------------------------------------------------


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".tmp-")]


def test_local_round_trip_in_a_fan_out_folder(tmp_path):
    store = LocalStore(tmp_path)
    name = _name()
    store.write(name, SEALED)
    assert (tmp_path / name[:2] / name).read_bytes() == SEALED
    assert store.read(name) == SEALED and store.exists(name)
    assert _temporaries(tmp_path) == []
    store.delete(name)
    assert not store.exists(name)
    store.delete(name)  # deleting twice is fine (a purge and a sweep may meet)
    with pytest.raises(BlobMissing):
        store.read(name)


def test_local_interrupted_write_leaves_no_file(tmp_path):
    """The write fails half-way (not bytes): no file under the name, no temporary left."""
    store = LocalStore(tmp_path)
    name = _name()
    with pytest.raises(TypeError):
        store.write(name, "pas des octets")  # type: ignore[arg-type]
    assert not store.exists(name)
    assert _temporaries(tmp_path) == []
    assert list(store.listing()) == []


def test_local_failed_sync_keeps_the_previous_content(tmp_path, monkeypatch):
    """A disk error at fsync: the name still holds the old, complete file."""
    store = LocalStore(tmp_path)
    name = _name()
    store.write(name, SEALED)

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        store.write(name, b"new content")
    monkeypatch.undo()
    assert store.read(name) == SEALED
    assert _temporaries(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_local_write_into_a_read_only_folder_fails_cleanly(tmp_path):
    store = LocalStore(tmp_path)
    name = _name()
    (tmp_path / name[:2]).mkdir()
    (tmp_path / name[:2]).chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            store.write(name, SEALED)
        assert not store.exists(name)
    finally:
        (tmp_path / name[:2]).chmod(0o700)


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "ab/../../x", "A" * 64, "abc", "ab/.tmp-x/../../y", ""]
)
def test_local_refuses_names_it_did_not_make(tmp_path, name):
    store = LocalStore(tmp_path)
    with pytest.raises(ValueError, match="invalide"):
        store.write(name, SEALED)
    with pytest.raises(ValueError):
        store.read(name)
    with pytest.raises(ValueError):
        store.delete(name)


def test_local_listing_ours_only_with_aware_times(tmp_path):
    store = LocalStore(tmp_path)
    name = _name()
    store.write(name, SEALED)
    leftover = tmp_path / name[:2] / ".tmp-abc123_x"
    leftover.write_bytes(b"partial")
    (tmp_path / "README").write_text("foreign")
    (tmp_path / "zz").mkdir()
    (tmp_path / "zz" / "notes.txt").write_text("foreign")
    listed = dict(store.listing())
    assert set(listed) == {name, f"{name[:2]}/.tmp-abc123_x"}
    assert all(t.tzinfo is not None for t in listed.values())
    assert abs(listed[name] - clock.now()) < timedelta(minutes=1)
    assert listed[name].tzinfo == UTC


def test_local_listing_of_a_missing_folder_is_empty(tmp_path):
    assert list(LocalStore(tmp_path / "absent").listing()) == []


@pytest.mark.django_db
def test_the_sweep_never_touches_foreign_files(settings):
    root = Path(settings.BLOB_DIR)
    (root / "zz").mkdir(parents=True)
    foreign = [root / "README", root / "zz" / "notes.txt"]
    for path in foreign:
        path.write_text("pas à nous")
    with clock.travel(timedelta(days=2)):
        assert blobs.orphans_sweep() == 0
    assert all(path.exists() for path in foreign)


# --- store_from_url and blob_store -------------------------------------------------------------


def test_empty_url_is_the_blob_dir(settings):
    store = store_from_url("")
    assert isinstance(store, LocalStore) and store.root == Path(settings.BLOB_DIR)


def test_file_url():
    store = store_from_url("file:///srv/carnet/blobs%20chiffres")
    assert isinstance(store, LocalStore)
    assert store.root == Path("/srv/carnet/blobs chiffres")


def test_file_url_without_a_path():
    with pytest.raises(ValueError, match="chemin absent"):
        store_from_url("file://")


def test_s3_url_plain_http():
    store = store_from_url(
        "s3://CLE:se%2Fcret@minio.interne:9000/carnet-blobs?region=eu-west-3&secure=0"
    )
    assert isinstance(store, S3Store)
    assert store.endpoint == "http://minio.interne:9000"
    assert store.bucket_name == "carnet-blobs"
    assert store.prefix == ""
    assert store.storage.access_key == "CLE"
    assert store.storage.secret_key == "se/cret"  # percent-decoded
    assert store.storage.region_name == "eu-west-3"
    assert store.storage.addressing_style == "path"
    # What the client really uses (our client_config replaces django-storages' own), and a
    # store that does not answer fails in seconds.
    config = store._client.meta.config
    assert config.s3["addressing_style"] == "path"
    assert config.connect_timeout == 5


def test_s3_url_defaults_to_https_and_keeps_a_prefix():
    store = store_from_url("s3://k:s@s3.example.fr/compartiment?prefix=/carnet/blobs/")
    assert store.endpoint == "https://s3.example.fr"
    assert store.storage.region_name == "us-east-1"
    assert store.prefix == "carnet/blobs"


def test_s3_url_with_an_ipv6_host():
    store = store_from_url("s3://k:s@[::1]:9000/carnet?secure=0")
    assert store.endpoint == "http://[::1]:9000"


@pytest.mark.parametrize("url", ["s3://k:s@hote", "s3://k:s@hote/", "s3:///carnet"])
def test_s3_url_without_host_or_bucket(url):
    with pytest.raises(ValueError, match="incomplète"):
        store_from_url(url)


@pytest.mark.parametrize("url", ["ftp://hote/dossier", "https://hote/carnet", "/var/blobs"])
def test_unknown_scheme_is_refused_in_french(url):
    with pytest.raises(ValueError, match="schéma inconnu"):
        store_from_url(url)


def test_blob_store_is_built_once_per_configuration(settings, tmp_path):
    first = blob_store()
    assert blob_store() is first
    settings.BLOB_DIR = tmp_path / "ailleurs"
    other = blob_store()
    assert other is not first and other.root == tmp_path / "ailleurs"
    settings.STORAGE_URL = f"file://{tmp_path}/encore"
    assert blob_store().root == tmp_path / "encore"


# --- S3Store against the server ----------------------------------------------------------------


def test_s3_round_trip(s3_bucket):
    store = blob_store()
    assert isinstance(store, S3Store)
    name = _name()
    store.write(name, SEALED)
    assert s3_bucket.keys() == [name]
    assert s3_bucket.get(name) == SEALED
    assert store.read(name) == SEALED and store.exists(name)
    [(listed, modified)] = list(store.listing())
    assert listed == name and modified.tzinfo is not None
    store.delete(name)
    assert s3_bucket.keys() == [] and not store.exists(name)
    store.delete(name)  # already gone: no error
    with pytest.raises(BlobMissing):
        store.read(name)


def test_s3_prefix_and_foreign_objects(s3_bucket, settings):
    settings.STORAGE_URL = s3_bucket.url + "&prefix=carnet/blobs"
    store = blob_store()
    name = _name()
    store.write(name, SEALED)
    foreign = ["README.txt", f"carnet/blobs/archives/{_name()}", f"autre/{_name()}"]
    for key in foreign:
        s3_bucket.put(key, b"pas a nous")
    assert f"carnet/blobs/{name}" in s3_bucket.keys()
    assert [listed for listed, _ in store.listing()] == [name]
    assert store.read(name) == SEALED


@pytest.mark.django_db
def test_s3_sweep_removes_old_orphans_only(s3_bucket):
    """A crash leftover in the bucket goes after an hour; a referenced blob and foreign or
    young objects stay. moto dates objects in real time, so the clock moves forward."""
    data_key = keys.data_key_create()
    kept = blobs.blob_put(data_key=data_key, plaintext=b"compte rendu")
    orphan = _name()
    blob_store().write(orphan, SEALED)
    s3_bucket.put("README.txt", b"pas a nous")
    with clock.travel(timedelta(minutes=59)):
        assert blobs.orphans_sweep() == 0
    with clock.travel(timedelta(hours=1, seconds=5)):
        assert blobs.orphans_sweep() == 1
    assert s3_bucket.keys() == sorted(["README.txt", kept.key])
    assert blobs.blob_read(kept) == b"compte rendu"


def test_s3_missing_bucket_is_an_error_not_a_missing_blob(s3_bucket, settings):
    """Only "no such key" means a missing blob; anything else (no bucket) propagates."""
    from botocore.exceptions import ClientError

    blob_store().write(name := _name(), SEALED)
    settings.STORAGE_URL = s3_bucket.url.replace("/" + s3_bucket.name, "/compartiment-absent")
    with pytest.raises(ClientError):
        blob_store().read(name)


def test_stores_module_names():
    assert stores.is_temporary("ab/.tmp-x1_y")
    assert not stores.is_temporary(".tmp-x1")
    assert not stores.is_temporary(_name())
