"""Documents at rest, through the public doors (upload view, file view, `carnet rotate_keys`,
`carnet tick`): encrypted under random names, never served when damaged, readable after a
key rotation, no leftovers after a crash, and the same on S3-compatible storage."""

import base64
import io
import os
import re
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection
from django.test import Client

from carnet.audit.models import Event
from carnet.core import blobs, clock, crypto
from carnet.core.models import Blob, DataKey
from carnet.core.stores import blob_store
from carnet.documents.files import file_check
from carnet.documents.models import Document
from carnet.documents.services import document_add
from carnet.tick import run_tick
from tests.core.test_stores import s3_bucket, s3_server  # noqa: F401 (fixtures)

from .conftest import form_data, pdf_bytes, upload

pytestmark = pytest.mark.django_db

HEX64 = re.compile(r"[0-9a-f]{64}")


def _add(client, title="Compte rendu cardiologie", data=None) -> Document:
    data = data or pdf_bytes("Echographie cardiaque de Alice Martin, FEVG 60 %", pages=2)
    response = client.post("/documents/ajouter/", form_data(upload("scan.pdf", data), title=title))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Document.objects.get(public_id=response["Location"].rstrip("/").rsplit("/", 1)[-1])


def _fetch(client, doc: Document):
    return client.get(f"/documents/{doc.public_id}/fichier/")


def _served(response) -> bytes:
    return b"".join(response.streaming_content)


def _stored(doc: Document) -> bytes:
    return blob_store().read(doc.blob_id)


def _local_file(doc: Document, settings) -> Path:
    return Path(settings.BLOB_DIR) / doc.blob_id[:2] / doc.blob_id


def _assert_ciphertext(sealed: bytes, plaintext: bytes) -> None:
    assert b"%PDF" not in sealed
    for start in range(len(plaintext) - 40 + 1):  # no 40-byte run of the plaintext survives
        assert plaintext[start : start + 40] not in sealed
    assert len(sealed) == len(plaintext) + 12 + 16  # nonce + GCM tag, nothing else


# --- Encryption at rest ------------------------------------------------------------------------


def test_stored_bytes_are_ciphertext_under_a_random_name(alice_client, alice, settings):
    data = pdf_bytes("Echographie cardiaque de Alice Martin, FEVG 60 %", pages=2)
    doc = _add(alice_client, title="Compte rendu cardiologie", data=data)
    twin = _add(alice_client, title="Compte rendu cardiologie", data=data)

    for d in (doc, twin):
        _assert_ciphertext(_local_file(d, settings).read_bytes(), data)
        assert HEX64.fullmatch(d.blob_id)
    # Same title, same person, same content: still two unrelated names and two ciphertexts.
    assert doc.blob_id != twin.blob_id
    assert _stored(doc) != _stored(twin)
    person = alice.person
    for d in (doc, twin):
        name = d.blob_id
        assert name != d.blob.sha256
        for clue in ("cardio", "compte", person.nir, person.last_name.lower(), str(d.public_id)):
            assert clue.lower() not in name
    # Nothing else on disk: no plaintext copy, no temporary upload file.
    files = [p for p in Path(settings.BLOB_DIR).rglob("*") if p.is_file()]
    assert sorted(p.name for p in files) == sorted([doc.blob_id, twin.blob_id])
    assert _served(_fetch(alice_client, doc)) == data


# --- Damaged blobs are never served ------------------------------------------------------------


def _flip_one_byte(path: Path) -> None:
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _remove(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize(
    "damage", [_flip_one_byte, _truncate, _remove], ids=["octet-inverse", "tronque", "absent"]
)
def test_a_damaged_blob_is_reported_not_served(alice_client, settings, damage):
    data = pdf_bytes("Resultats d'analyses sanguines")
    doc = _add(alice_client, data=data)
    damage(_local_file(doc, settings))

    for url in (
        f"/documents/{doc.public_id}/fichier/",
        f"/documents/{doc.public_id}/fichier/?telecharger",
    ):
        response = alice_client.get(url)
        assert response.status_code == 500
        assert not response.streaming
        page = response.content.decode()
        assert "Ce document ne peut pas être ouvert" in page
        assert "%PDF" not in page and "Content-Disposition" not in response
        assert response["Content-Type"].startswith("text/html")
    events = Event.objects.filter(object_id=str(doc.public_id))
    assert events.filter(action="document_illisible").count() == 2
    assert not events.filter(action__in=["document_consultation", "document_telechargement"])


# --- Key rotation ------------------------------------------------------------------------------


def _new_kek() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _rotate() -> str:
    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    return out.getvalue()


def test_rotation_keeps_every_document_readable(alice_client, bob, settings):
    bob_client = Client()
    bob_client.force_login(bob)
    contents = {}
    for client, text in [(alice_client, "Alice ordonnance"), (bob_client, "Bob radiographie")]:
        for n in range(2):
            data = pdf_bytes(f"{text} {n}")
            contents[_add(client, title=f"{text} {n}", data=data).pk] = (client, data)
    old_id = crypto.current_kek_id()
    live = DataKey.objects.filter(wrapped__isnull=False)
    assert live.count() >= 2 and set(live.values_list("kek_id", flat=True)) == {old_id}
    sealed_before = {doc.blob_id: _stored(doc) for doc in Document.objects.all()}

    settings.CARNET_KEYS = {**settings.CARNET_KEYS, "k-2027": _new_kek()}
    assert _rotate().startswith(
        f"{live.count()} clés de données rechiffrées sous la clé « k-2027 »"
    )
    assert set(DataKey.objects.filter(wrapped__isnull=False).values_list("kek_id", flat=True)) == {
        "k-2027"
    }
    # The files themselves are untouched: only the data keys' envelopes changed.
    assert {doc.blob_id: _stored(doc) for doc in Document.objects.all()} == sealed_before

    assert _rotate().startswith("0 clés de données rechiffrées")  # idempotent

    # The old key-encryption key can go: everything still reads through the view.
    settings.CARNET_KEYS = {"k-2027": settings.CARNET_KEYS["k-2027"]}
    for doc in Document.objects.all():
        client, data = contents[doc.pk]
        response = _fetch(client, doc)
        assert response.status_code == 200 and _served(response) == data
    assert _rotate().startswith("0 clés")


def test_rotation_refuses_when_a_key_in_use_is_missing(alice_client, settings):
    doc = _add(alice_client)
    original = dict(settings.CARNET_KEYS)
    # A data key wrapped under a key-encryption key that is then taken out of CARNET_KEYS.
    settings.CARNET_KEYS = {**original, "k-perdue": _new_kek()}
    stray_id, stray_wrapped = crypto.wrap_key(os.urandom(32), kek_id="k-perdue")
    stray = DataKey.objects.create(kek_id=stray_id, wrapped=stray_wrapped, created_at=clock.now())
    settings.CARNET_KEYS = {**original, "k-nouvelle": _new_kek()}

    with pytest.raises(CommandError, match="absente de CARNET_KEYS.*k-perdue"):
        _rotate()
    # Checked before anything changed: the readable keys were not rewrapped either.
    assert DataKey.objects.get(pk=doc.blob.data_key_id).kek_id != "k-nouvelle"
    assert DataKey.objects.get(pk=stray.pk).kek_id == "k-perdue"
    assert _fetch(alice_client, doc).status_code == 200


def test_rotation_refuses_a_wrong_key_under_a_known_id(alice_client, settings):
    """The id is there but its value changed: the envelope does not open, nothing is lost."""
    doc = _add(alice_client)
    old_id = crypto.current_kek_id()
    settings.CARNET_KEYS = {old_id: _new_kek(), "k-nouvelle": _new_kek()}
    with pytest.raises(CommandError, match=old_id):
        _rotate()
    assert DataKey.objects.get(pk=doc.blob.data_key_id).kek_id == old_id


# --- Crash between the file and the row --------------------------------------------------------


@contextmanager
def _document_insert_fails():
    """A real database failure on INSERT INTO the documents table, after the blob is written:
    a trigger that aborts the statement (no mock of our own code)."""
    table = connection.ops.quote_name(Document._meta.db_table)
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute(
                "CREATE FUNCTION carnet_test_panne() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'panne simulée'; END; $$"
            )
            cursor.execute(
                f"CREATE TRIGGER carnet_test_panne BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION carnet_test_panne()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER carnet_test_panne BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'panne simulée'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if postgres:
                cursor.execute(f"DROP TRIGGER carnet_test_panne ON {table}")
                cursor.execute("DROP FUNCTION carnet_test_panne()")
            else:
                cursor.execute("DROP TRIGGER carnet_test_panne")


def _crash_upload(client, data: bytes) -> None:
    """The upload view fails on the simulated crash (the test client re-raises it)."""
    with pytest.raises(DatabaseError, match="panne simulée"):
        client.post("/documents/ajouter/", form_data(upload("analyse.pdf", data)))


def test_a_crash_leaves_only_an_orphan_that_the_tick_removes(alice_client, settings):
    kept = _add(alice_client, title="Avant la panne")
    data = pdf_bytes("Bilan sanguin")
    with _document_insert_fails():
        _crash_upload(alice_client, data)

    # Neither the document nor the blob row exists; the sealed file does, alone.
    assert list(Document.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(Blob.objects.values_list("key", flat=True)) == [kept.blob_id]
    names = {name for name, _ in blob_store().listing()}
    [orphan] = names - {kept.blob_id}
    _assert_ciphertext(blob_store().read(orphan), data)
    assert not Event.objects.filter(action="document_ajout").exclude(object_id=str(kept.public_id))

    with clock.travel(timedelta(minutes=59)):
        assert run_tick()["fichiers_orphelins"] == 0  # it might still be an upload in flight
    assert blob_store().exists(orphan)
    with clock.travel(timedelta(hours=1, seconds=5)):
        fresh = "f" * 64  # written "now" on the moved clock: kept
        blob_store().write(fresh, b"upload en cours")
        moved_now = clock.now().timestamp()
        os.utime(Path(settings.BLOB_DIR) / fresh[:2] / fresh, (moved_now, moved_now))
        assert run_tick()["fichiers_orphelins"] == 1
        assert run_tick()["fichiers_orphelins"] == 0  # idempotent
    assert not blob_store().exists(orphan)
    assert blob_store().exists(fresh)
    response = _fetch(alice_client, kept)  # referenced: never removed, whatever its age
    assert response.status_code == 200 and _served(response).startswith(b"%PDF")


def test_a_crash_through_the_service_raises_and_keeps_nothing_but_the_file(alice):
    checked = file_check("analyse.pdf", pdf_bytes("Bilan"))
    with _document_insert_fails(), pytest.raises(DatabaseError, match="panne simulée"):
        document_add(
            user=alice,
            space=alice.person.space,
            checked=checked,
            title="Bilan",
            category="CPT_REND",
            document_date=clock.today(),
        )
    assert not Document.objects.exists() and not Blob.objects.exists()
    assert len(list(blob_store().listing())) == 1


# --- The same on S3-compatible storage ---------------------------------------------------------


def test_whole_cycle_on_s3(
    alice_client,
    s3_bucket,  # noqa: F811 (the imported fixture)
    settings,
    django_capture_on_commit_callbacks,
):
    data = pdf_bytes("Compte rendu operatoire, genou droit", pages=2)
    doc = _add(alice_client, title="Genou", data=data)

    # In the bucket, under its random name, as ciphertext; nothing on the local disk.
    assert s3_bucket.keys() == [doc.blob_id]
    _assert_ciphertext(s3_bucket.get(doc.blob_id), data)
    assert not Path(settings.BLOB_DIR).exists() or not any(Path(settings.BLOB_DIR).rglob("*"))

    response = _fetch(alice_client, doc)
    assert response.status_code == 200 and _served(response) == data

    # A crash leftover in the bucket: the sweep removes it once old enough, not before.
    with _document_insert_fails():
        _crash_upload(alice_client, pdf_bytes("Bilan"))
    [orphan] = set(s3_bucket.keys()) - {doc.blob_id}
    assert not Blob.objects.filter(key=orphan).exists()
    assert blobs.orphans_sweep() == 0
    with clock.travel(timedelta(hours=1, seconds=5)):
        assert blobs.orphans_sweep() == 1
    assert s3_bucket.keys() == [doc.blob_id]

    # Deleted, then purged after the retention window: the object leaves the bucket.
    alice_client.post(f"/documents/{doc.public_id}/supprimer/")
    assert s3_bucket.keys() == [doc.blob_id]  # soft deletion: still restorable
    with clock.travel(settings.CARNET["DOCUMENT_RETENTION"] + timedelta(days=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert run_tick()["documents_supprimes"] == 1
    assert s3_bucket.keys() == []
    assert not Document.objects.exists() and not Blob.objects.exists()


def test_a_damaged_or_missing_object_on_s3_is_not_served(
    alice_client,
    s3_bucket,  # noqa: F811 (the imported fixture)
):
    doc = _add(alice_client)
    s3_bucket.put(doc.blob_id, s3_bucket.get(doc.blob_id)[:-1])
    response = _fetch(alice_client, doc)
    assert response.status_code == 500
    assert "ne peut pas être ouvert" in response.content.decode()
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=doc.blob_id)
    assert _fetch(alice_client, doc).status_code == 500
    assert (
        Event.objects.filter(object_id=str(doc.public_id), action="document_illisible").count() == 2
    )
