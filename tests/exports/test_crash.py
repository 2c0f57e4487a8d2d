"""Crash safety of the build: a build that dies half-way offers nothing and is finished by a
retry of the sweep; a build that fails gives its turn back, and after EXPORT_MAX_ATTEMPTS the
export is failed (the account told, and free to ask again); a build that lost its turn drops
its file; a damaged document is left out and named, never put in the ZIP; a ready export's
file is never taken for an orphan.

Nothing of ours is replaced here (DESIGN: real parts, not mocks). Failures are real (a
document's file damaged on disk) or come from below our code, from the standard library the
local store calls: the read of a stored file (`Path.read_bytes`), its sync (`os.fsync`), and
`time.monotonic`, which the build's signs of life count seconds with."""

import errno
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from carnet.core import clock
from carnet.core.blobs import orphans_sweep
from carnet.core.models import Blob
from carnet.exports import services
from carnet.exports.models import Export
from carnet.notifications.models import OutboxMessage
from carnet.tick import run_tick
from tests.accounts.helpers import page

from .conftest import INDEX, ask, download, latest, opened, reauthenticated, sha256

pytestmark = pytest.mark.django_db


class Crash(BaseException):
    """The process dies: no `except Exception` of ours runs."""


def stale() -> timedelta:
    return settings.CARNET["EXPORT_STALE_AFTER"] + timedelta(minutes=1)


def files_on_disk() -> set[str]:
    root = settings.BLOB_DIR
    return {p.name for p in root.glob("*/*")} if root.exists() else set()


def temporaries() -> list[Path]:
    return list(settings.BLOB_DIR.rglob(".tmp-*"))


def stored_file(key: str) -> Path:
    """Where the local store keeps the blob `key` (`LocalStore._path`)."""
    return settings.BLOB_DIR / key[:2] / key


def tick(capture):
    with capture(execute=True):
        return run_tick()


def when_read(monkeypatch, key: str, happens) -> None:
    """`happens()` runs the first time the process reads the stored file `key` (the store reads
    it with the standard library's `Path.read_bytes`), before the bytes are read."""
    path, real, pending = stored_file(key), Path.read_bytes, [happens]

    def read_bytes(self):
        if self == path and pending:
            pending.pop()()
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def when_synced(monkeypatch, happens) -> None:
    """`happens()` runs at each `os.fsync` (standard library) of a file or folder of the blob
    store, before the sync."""
    real, root = os.fsync, str(settings.BLOB_DIR)

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(root):
            happens()
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def taken_over(capture) -> None:
    """The build has been silent past EXPORT_STALE_AFTER (the clock stays there for the rest of
    the test): the sweep hands the export to another worker, which builds it (immediate tasks)
    while the first one still runs."""
    clock.set_offset(stale())
    tick(capture)


def test_a_crash_mid_build_offers_nothing_and_the_retry_completes(
    alice_client, alice, alice_space, alice_docs, doctor_message, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    def dies():  # after the profile's files and the first document went into the stream
        raise Crash

    when_read(monkeypatch, alice_docs[1].blob_id, dies)
    before = files_on_disk()
    ask(alice_client, django_capture_on_commit_callbacks, [alice_space])
    export = latest(alice)
    assert export.status == Export.Status.BUILDING and export.attempts == 1
    assert export.heartbeat_at is not None  # it did not give its turn back: it went silent
    assert export.blob_id is None
    assert files_on_disk() == before  # no half file under a blob's name
    assert not OutboxMessage.objects.filter(kind__startswith="export_").exists()
    reauthenticated(alice_client)
    assert alice_client.get(reverse("exports:download", args=[export.public_id])).status_code == 404
    index = page(alice_client.get(INDEX))
    assert "En préparation" in index and "/telecharger/" not in index

    tick(django_capture_on_commit_callbacks)  # still within EXPORT_STALE_AFTER: left alone
    assert Export.objects.get(pk=export.pk).attempts == 1
    with clock.travel(stale()):
        tick(django_capture_on_commit_callbacks)  # silent: handed to the worker again
    export.refresh_from_db()
    assert export.status == Export.Status.READY and export.attempts == 2
    assert OutboxMessage.objects.filter(kind="export_pret").count() == 1
    reauthenticated(alice_client)
    archive = opened(download(alice_client, export))
    assert len([n for n in archive.namelist() if "/documents/" in n]) == 3
    assert [n for n in archive.namelist() if "/messages/" in n]


def test_a_failing_build_is_retried_then_failed_and_can_be_asked_again(
    alice_client, alice, alice_space, alice_docs, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    def disk_full():  # the error a full disk gives when the cached writes are synced
        raise OSError(errno.ENOSPC, "No space left on device")

    when_synced(monkeypatch, disk_full)
    before = files_on_disk()
    ask(alice_client, django_capture_on_commit_callbacks, [alice_space])
    export = latest(alice)
    assert export.status == Export.Status.BUILDING and export.heartbeat_at is None
    travelled = timedelta(0)
    for attempt in (2, 3):
        travelled += stale()
        with clock.travel(travelled):
            tick(django_capture_on_commit_callbacks)
        export.refresh_from_db()
        assert export.attempts == attempt and export.status == Export.Status.BUILDING
    travelled += stale()
    with clock.travel(travelled):
        tick(django_capture_on_commit_callbacks)
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED and export.blob_id is None
    assert export.data_key.wrapped is None
    [mail] = OutboxMessage.objects.filter(kind="export_echec")
    assert "n'a pas pu être préparé" in mail.subject + mail.body
    assert not Blob.objects.filter(data_key__in=[export.data_key]).exists()
    assert files_on_disk() == before and not temporaries()

    monkeypatch.undo()  # room on the disk again
    with clock.travel(travelled):
        assert services.request_refusal(alice) == ""  # a failed export does not count
        again = services.export_request(user=alice, spaces=[alice_space])
        assert again.pk != export.pk
        assert services.export_build(again.pk) == "prete"


def test_a_build_that_lost_its_turn_drops_its_file(
    alice, alice_space, alice_docs, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    """Its read of a document hangs past EXPORT_STALE_AFTER; meanwhile another worker is given
    the export and builds it. When the read comes back, the first build stops at its next sign
    of life and removes what it wrote; what is offered is the other build's file."""
    hung = [0.0]  # seconds the read hung, for `time.monotonic`
    real_monotonic = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + hung[0])

    def hangs():
        hung[0] += stale().total_seconds()
        taken_over(django_capture_on_commit_callbacks)

    when_read(monkeypatch, alice_docs[1].blob_id, hangs)
    before = files_on_disk()
    export = services.export_request(user=alice, spaces=[alice_space])
    assert services.export_build(export.pk) == "remplace"
    assert "build superseded, stopped" in caplog.text  # at a sign of life, not at the end
    export.refresh_from_db()
    assert export.status == Export.Status.READY and export.attempts == 2
    assert export.documents == 3
    assert files_on_disk() == before | {export.blob_id}  # the other build's file only
    assert not temporaries()


def test_a_build_superseded_at_the_end_drops_its_finished_file(
    alice, alice_space, alice_docs, monkeypatch, django_capture_on_commit_callbacks
):
    """Its file is written, but the sync hangs past EXPORT_STALE_AFTER; meanwhile another
    worker builds the export. Back, the first build finds its turn gone when it would offer
    its file: it deletes it."""

    hung = []

    def hangs():  # the first sync only: the other build's go through
        if not hung:
            hung.append(True)
            taken_over(django_capture_on_commit_callbacks)

    when_synced(monkeypatch, hangs)
    before = files_on_disk()
    export = services.export_request(user=alice, spaces=[alice_space])
    assert services.export_build(export.pk) == "remplace"
    export.refresh_from_db()
    assert export.status == Export.Status.READY and export.attempts == 2
    assert files_on_disk() == before | {export.blob_id}
    assert not temporaries()


def test_a_damaged_document_is_left_out_and_named_and_the_next_export_holds_it(
    alice_client, alice, alice_space, alice_docs, django_capture_on_commit_callbacks
):
    """A document's file damaged on disk fails its check (GCM tag): the export is prepared
    without it, and LISEZMOI.txt names it; never a damaged file in the ZIP."""
    path = stored_file(alice_docs[1].blob_id)
    original = path.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))

    ask(alice_client, django_capture_on_commit_callbacks, [alice_space])
    export = latest(alice)
    assert export.status == Export.Status.READY and export.documents == 2
    assert export.unreadable == 1
    page = alice_client.get(reverse("exports:index")).content.decode()
    assert "Un fichier n'a pas pu être lu" in page and "LISEZMOI.txt" in page
    reauthenticated(alice_client)
    archive = opened(download(alice_client, export))
    folder = f"{alice.person.first_name} {alice.person.last_name}"
    left_out = f"{folder}/documents/2026-11-02 Compte rendu cardiologie (2).pdf"
    documents = sorted(n for n in archive.namelist() if "/documents/" in n)
    assert left_out not in documents and len(documents) == 2
    assert sorted(sha256(archive.read(n)) for n in documents) == sorted(
        d.blob.sha256 for d in (alice_docs[0], alice_docs[2])
    )
    readme = archive.read("LISEZMOI.txt").decode()
    assert "n'ont pas pu être lus" in readme and f"- {left_out}\r\n" in readme

    path.write_bytes(original)  # restored (from a backup)
    with clock.travel(settings.CARNET["EXPORT_COOLDOWN"] + timedelta(minutes=1)):
        later = Client()  # a new session: the first one has long ended
        later.force_login(alice)
        ask(later, django_capture_on_commit_callbacks, [alice_space])
        again = latest(alice)
        assert again.pk != export.pk and again.documents == 3 and again.unreadable == 0
        reauthenticated(later)
        archive = opened(download(later, again))
    assert sorted(sha256(archive.read(n)) for n in archive.namelist() if "/documents/" in n) == (
        sorted(d.blob.sha256 for d in alice_docs)
    )
    assert "n'ont pas pu être lus" not in archive.read("LISEZMOI.txt").decode()


def test_a_ready_export_is_never_taken_for_an_orphan(
    alice_client, alice, alice_space, alice_docs, django_capture_on_commit_callbacks
):
    ask(alice_client, django_capture_on_commit_callbacks, [alice_space])
    export = latest(alice)
    with clock.travel(timedelta(hours=2)):
        orphans_sweep()
    assert export.blob_id in files_on_disk()
    reauthenticated(alice_client)
    assert opened(download(alice_client, export))
