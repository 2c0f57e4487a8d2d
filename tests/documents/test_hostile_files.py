"""Hostile uploads: a small file that costs seconds and gigabytes to decode is checked in a child
of the checker process, bounded in CPU, memory and time (files.file_check_isolated). It is
refused in French, nothing is stored, the child always ends, and the web worker and the checker
go on unharmed."""

import io
import os
import struct
import time
import zlib

import pytest

from carnet.documents import checker
from carnet.documents.files import FileRefused, file_check
from carnet.documents.models import Document

from .conftest import image_bytes, pdf_bytes
from .test_upload import assert_nothing_stored, assert_refused, post_file

pytestmark = pytest.mark.django_db

TOO_COMPLEX = "Ce fichier est trop complexe pour être vérifié : il n'a pas été ajouté."
MiB = 1024 * 1024


def object_stream_bomb(pages: int, megabytes: int) -> bytes:
    """A PDF of a few tens of kilobytes whose page objects each sit in a compressed object
    stream of `megabytes` Mo once decompressed (a string of "A"s in the page dictionary)."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = {}

    def obj(num: int, body: bytes):
        offsets[num] = out.tell()
        out.write(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    kids = b" ".join(b"%d 0 R" % (100 + i) for i in range(pages))
    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(2, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages)
    chunk = b"A" * MiB
    for i in range(pages):
        header = b"%d 0 " % (100 + i)
        page = header + b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Junk ("
        packer = zlib.compressobj(9)
        packed = packer.compress(page)
        packed += b"".join(packer.compress(chunk) for _ in range(megabytes))
        packed += packer.compress(b") >>") + packer.flush()
        obj(
            200 + i,
            b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
            % (len(header), len(packed))
            + packed
            + b"\nendstream",
        )
    size = 200 + pages + 1  # the cross-reference stream is the last object
    xref_at = out.tell()
    rows = []
    for num in range(size):
        if num in offsets:
            rows.append((1, offsets[num], 0))
        elif 100 <= num < 100 + pages:
            rows.append((2, 200 + num - 100, 0))  # in object stream 200 + i, at index 0
        elif num == size - 1:
            rows.append((1, xref_at, 0))
        else:
            rows.append((0, 0, 65535 if num == 0 else 0))
    table = b"".join(struct.pack(">BIH", *row) for row in rows)
    out.write(
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % (size - 1, size, len(table))
        + table
        + b"\nendstream\nendobj\n"
    )
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref_at)
    return out.getvalue()


def blank_png(width: int, height: int) -> bytes:
    """A real RGBA PNG of transparent pixels: a few kilobytes, width × height × 4 bytes decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    packer = zlib.compressobj(9)
    row = bytes(1 + 4 * width)  # filter byte, then the pixels
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def assert_no_child_left():
    """No child of this process is left running or unreaped (a zombie)."""
    try:
        assert os.waitpid(-1, os.WNOHANG) == (0, 0)  # children of others (xdist…) still running
    except ChildProcessError:
        pass  # no child at all


@pytest.fixture
def bounds(settings):
    """Small bounds, for fast tests."""

    def set_bounds(**values):
        names = {"cpu": "CPU_SECONDS", "timeout": "TIMEOUT_SECONDS", "memory": "MEMORY_BYTES"}
        settings.CARNET = {
            **settings.CARNET,
            **{f"FILE_CHECK_{names[key]}": value for key, value in values.items()},
        }

    return set_bounds


def assert_checker_unharmed(checker_pid: int):
    """The same checker serves on, and each of its children has ended (killed by its bounds, it
    ends by itself; the kernel reaps it: no zombie is left)."""
    assert checker.checker_pid() == checker_pid
    deadline = time.monotonic() + 10
    while checker.checker_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checker.checker_children() == []


@pytest.fixture
def checker_pid():
    """The checker of this process, started by a first ordinary check."""
    from carnet.documents.files import file_check_isolated

    file_check_isolated("Compte rendu.pdf", pdf_bytes())
    return checker.checker_pid()


# --- hostile files are refused, the worker unharmed -------------------------------------------


def test_a_pdf_object_stream_bomb_is_refused_as_too_complex(alice_client, bounds, checker_pid):
    # 4 page objects of 15 Mo each once decompressed (under pypdf's cap): in the web worker,
    # about 5 s of CPU and 900 Mo of memory; here, a child stopped at 1 s or 256 Mio.
    data = object_stream_bomb(pages=4, megabytes=15)
    assert len(data) < 100_000
    bounds(cpu=1, memory=256 * MiB, timeout=10)
    for _ in range(2):  # the same refusal on the second try: nothing left over
        assert_refused(post_file(alice_client, "bombe.pdf", data), TOO_COMPLEX)
    assert_checker_unharmed(checker_pid)
    assert_no_child_left()
    # … and the worker still takes a real PDF.
    assert post_file(alice_client, "Compte rendu.pdf", pdf_bytes()).status_code == 302


def test_streams_over_pypdfs_cap_are_refused_without_being_decompressed():
    """The second net, in the check itself: a stream is decoded to 4 × the file limit at most."""
    data = object_stream_bomb(pages=1, megabytes=30)
    with pytest.raises(FileRefused, match=r"^Ce fichier n'est pas un PDF valide\.$"):
        file_check("bombe.pdf", data)


def test_an_image_within_the_pixel_budget_but_over_the_memory_budget_is_refused(
    alice_client, bounds, checker_pid
):
    # 49.7 million pixels (under the budget of 50 million), 200 Mo decoded, 193 ko sent. The
    # memory budget counts from the checker's size.
    data = blank_png(7_000, 7_100)
    assert len(data) < 200_000
    bounds(memory=64 * MiB)
    for _ in range(2):
        assert_refused(post_file(alice_client, "bombe.png", data), TOO_COMPLEX)
    assert_checker_unharmed(checker_pid)
    assert_no_child_left()


def test_a_large_image_passes_with_the_default_budget(alice_client):
    response = post_file(alice_client, "Grande.png", blank_png(4_000, 4_000))  # 64 Mo decoded
    assert response.status_code == 302
    assert_no_child_left()


def test_a_check_past_its_wall_time_is_killed_and_reaped(alice_client, bounds, checker_pid):
    # A real hostile file with room for CPU and memory, but not for time: the wall-clock
    # bound ends it (a child stuck in a lock or waiting on I/O would end the same way).
    data = object_stream_bomb(pages=4, megabytes=15)
    bounds(cpu=60, memory=2048 * MiB, timeout=0.3)
    assert_refused(post_file(alice_client, "bombe.pdf", data), TOO_COMPLEX)
    assert_checker_unharmed(checker_pid)  # its timer ended it well before its CPU bound
    assert_no_child_left()


# --- ordinary files are unaffected ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "media_type"),
    [
        ("Compte rendu.pdf", pdf_bytes, "application/pdf"),
        ("Radio.png", image_bytes, "image/png"),
        ("Photo.jpg", lambda: image_bytes("JPEG"), "image/jpeg"),
        ("Note.txt", lambda: "Résultat : normal\n".encode(), "text/plain; charset=utf-8"),
    ],
)
def test_ordinary_files_pass_the_isolated_check(alice_client, name, make, media_type):
    response = post_file(alice_client, name, make())
    assert response.status_code == 302
    assert Document.objects.get().media_type == media_type
    assert_no_child_left()


def test_a_refusal_from_the_child_is_shown_as_it_is(alice_client):
    message = "Ce fichier n'est pas un PDF valide : il est incomplet (fin du fichier absente)."
    assert_refused(post_file(alice_client, "Coupé.pdf", pdf_bytes()[:-200]), message)
    assert_nothing_stored()
