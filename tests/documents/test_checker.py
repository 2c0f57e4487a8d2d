"""The checker process (documents.checker): one per process, started at the first check, again
after it has died; each check applies the caller's settings, not the checker's."""

import os
import signal

import pytest

from carnet.documents import checker
from carnet.documents.files import FileRefused, file_check_isolated

from .conftest import image_bytes, pdf_bytes


def test_a_checker_killed_is_replaced_at_the_next_check():
    assert file_check_isolated("Compte rendu.pdf", pdf_bytes()).media_type == "application/pdf"
    first = checker.checker_pid()
    os.kill(first, signal.SIGKILL)
    os.waitpid(first, 0)  # this process started it: it is ours to reap
    assert file_check_isolated("Radio.png", image_bytes()).media_type == "image/png"
    assert checker.checker_pid() not in (None, first)


def test_the_callers_limits_apply_in_the_child(settings):
    data = pdf_bytes()
    settings.CARNET = {**settings.CARNET, "DOCUMENT_MAX_BYTES": len(data) - 1}
    with pytest.raises(FileRefused, match="^Le fichier dépasse"):
        file_check_isolated("Compte rendu.pdf", data)
    settings.CARNET = {**settings.CARNET, "DOCUMENT_MAX_BYTES": len(data), "IMAGE_MAX_PIXELS": 99}
    assert file_check_isolated("Compte rendu.pdf", data).media_type == "application/pdf"
    with pytest.raises(FileRefused, match="^L'image est trop grande"):
        file_check_isolated("Radio.png", image_bytes())


def test_the_checker_ends_with_its_owner():
    """Its control socket closed (the owner ended), the checker leaves."""
    file_check_isolated("Note.txt", "Résultat : normal\n".encode())
    pid = checker.checker_pid()
    checker.checker_stop()  # closes the control socket and waits for the checker
    assert not os.path.exists(f"/proc/{pid}")
    assert file_check_isolated("Note.txt", b"Normal\n").media_type.startswith("text/plain")


def test_the_checker_gets_no_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("CARNET_KEYS", "1:secret-de-test")
    monkeypatch.setenv("SECRET_KEY", "secret-de-test")
    checker.checker_stop()  # a new checker, started with this environment
    file_check_isolated("Note.txt", b"Normal\n")
    with open(f"/proc/{checker.checker_pid()}/environ", "rb") as environ:
        names = {item.split(b"=", 1)[0] for item in environ.read().split(b"\0") if item}
    assert b"CARNET_KEYS" not in names and b"SECRET_KEY" not in names
    assert b"DATABASE_URL" not in names
    assert b"PYTHONPATH" in names
