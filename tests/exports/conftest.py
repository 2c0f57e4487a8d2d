"""Fixtures of the export tests: Alice's documents, a message with an attachment from her
doctor, an appointment; the export asked through the real page and built by the (immediate)
worker; the ZIP downloaded through the real view."""

import hashlib
import io
import zipfile
from datetime import date, datetime

import pytest
from django.urls import reverse

from carnet.accounts.services import REAUTH_AT_KEY
from carnet.agenda import services as agenda
from carnet.core import clock
from carnet.documents.files import file_check
from carnet.documents.services import document_add
from carnet.enrollment.selectors import own_space
from carnet.exports.models import Export
from carnet.messaging.services import OutgoingFile
from tests.documents.conftest import image_bytes, pdf_bytes
from tests.messaging.conftest import authorise, make_professional, pro_writes

REQUEST = reverse("exports:request")
INDEX = reverse("exports:index")
SECRET_TITLES = ("Compte rendu cardiologie", "Radio du genou")


def reauthenticated(client) -> None:
    """A fresh re-authentication in the client's session (its real flow is tested once)."""
    session = client.session
    session[REAUTH_AT_KEY] = clock.now().isoformat()
    session.save()


def add_document(user, space, title, name, data, **fields):
    return document_add(
        user=user,
        space=space,
        checked=file_check(name, data),
        title=title,
        category=fields.pop("category", "CPT_REND"),
        document_date=fields.pop("document_date", date(2026, 11, 2)),
        **fields,
    )


@pytest.fixture
def alice_space(alice):
    return own_space(alice)


@pytest.fixture
def alice_docs(alice, alice_space):
    """Two documents of the same date and title (names de-duplicated) and an image."""
    return [
        add_document(alice, alice_space, SECRET_TITLES[0], "cr.pdf", pdf_bytes("un")),
        add_document(alice, alice_space, SECRET_TITLES[0], "cr.pdf", pdf_bytes("deux")),
        add_document(alice, alice_space, SECRET_TITLES[1], "genou.png", image_bytes()),
    ]


@pytest.fixture
def doctor_message(alice_space):
    """Her doctor writes to her, with a PDF attachment."""
    pro = make_professional(last_name="DUPONT", first_name="Claire")
    authorise(alice_space, pro)
    attachment = OutgoingFile(
        filename="résultats.pdf",
        data=pdf_bytes("Résultats"),
        media_type="application/pdf",
        extension="pdf",
    )
    return pro_writes(pro, alice_space, subject="Vos résultats", files=[attachment])


@pytest.fixture
def appointment(alice, alice_space):
    return agenda.appointment_add(
        user=alice,
        space=alice_space,
        data=agenda.AppointmentData(
            starts_at=datetime(2026, 12, 3, 10, 30, tzinfo=clock.now().tzinfo),
            title="Cardiologue",
        ),
    )


def ask(client, capture, spaces, **extra):
    """POST the request page; the build runs once the request commits (immediate backend)."""
    with capture(execute=True):
        return client.post(REQUEST, {"profiles": [str(s.public_id) for s in spaces], **extra})


def latest(user) -> Export:
    return Export.objects.filter(user=user).order_by("-requested_at", "-id").first()


def download(client, export) -> bytes:
    response = client.get(reverse("exports:download", args=[export.public_id]))
    assert response.status_code == 200, response.content[:2000]
    assert response["Content-Type"] == "application/zip"
    data = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(data)
    return data


def opened(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None  # every entry's CRC checks
    return archive


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
