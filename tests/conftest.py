"""Shared fixtures: a clean clock, issued codes, and a real local SMTP server (aiosmtpd)."""

import logging
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from carnet.accounts.models import User
from carnet.core import clock
from carnet.enrollment import services
from tests.enrollment.helpers import PASSWORD, activate
from tests.factories import InsuredPersonFactory
from tests.ports import free_port
from tests.smtp_sink import SmtpSink


@pytest.fixture(autouse=True)
def _reset_clock():
    clock.set_offset(timedelta(0))
    yield
    clock.set_offset(timedelta(0))


@pytest.fixture(autouse=True)
def _no_sweep_fails(request, caplog):
    """A sweep that fails is logged and the tick goes on (carnet.tick): in a test, unless the
    test means it, that is a bug the test would otherwise not see."""
    yield
    if request.node.get_closest_marker("sweep_failures"):
        return
    failed = [
        r.getMessage()
        for r in caplog.get_records("call")
        if r.name == "carnet.tick" and r.levelno >= logging.ERROR
    ]
    assert not failed, f"balayage en échec pendant le test : {failed}"


@pytest.fixture(autouse=True)
def _isolated_files(settings, tmp_path):
    settings.BLOB_DIR = tmp_path / "blobs"
    settings.LETTERS_DIR = tmp_path / "letters"


@pytest.fixture(autouse=True)
def _matrix_loaded(request):
    """The profession × category matrix comes from a data migration, and a transactional test
    (live server, concurrency) ends by flushing every table: put it back for the tests after."""
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if marker is None and not {"db", "transactional_db"} & names:
        return  # no database in this test
    transactional = "transactional_db" in names or (marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from carnet.consent.matrix import matrix_cells
    from carnet.consent.models import CategoryAccess

    if not CategoryAccess.objects.exists():
        CategoryAccess.objects.bulk_create(
            CategoryAccess(profession=p, category=c, allowed=a, updated_by="matrix.json")
            for p, c, a in matrix_cells()
        )


@dataclass
class Issued:
    person: object
    code: str


@pytest.fixture
def issue_code(db):
    """Create a person (factory kwargs) and issue their provisional code; returns Issued."""

    def make(**kwargs):
        person = InsuredPersonFactory(**kwargs)
        [(person, code, _)] = services.codes_issue([person])
        return Issued(person=person, code=code)

    return make


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback; EMAIL_URL points at it so the outbox delivers."""
    collector = SmtpSink()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_URL = f"smtp://127.0.0.1:{port}"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield collector
    finally:
        controller.stop()


# --- Patients with an active space, and a professional (profile, documents…) ----------------


@pytest.fixture
def alice(issue_code):
    """An active patient born on 17 May 1980 (the factory's birth date)."""
    issued = issue_code(first_name="Alice", email="alice.martin@exemple.fr")
    return activate(issued, identifier="alice.martin")


@pytest.fixture
def bob(issue_code):
    """Another active patient, with his own space."""
    issued = issue_code(first_name="Bob", email="bob.durand@exemple.fr")
    return activate(issued, identifier="bob.durand")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def professional(db):
    return User.objects.create_user(
        "dr.bernard.pro",
        PASSWORD,
        kind=User.Kind.PROFESSIONAL,
        email="dr.bernard@exemple.fr",
        email_verified=True,
    )
