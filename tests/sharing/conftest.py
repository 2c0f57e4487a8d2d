"""Fixtures of the share-link tests: Alice's documents (real encrypted files through the
documents service), and helpers that drive the real pages: create, open, unlock, revoke."""

import re
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from carnet.documents.files import file_check
from carnet.documents.services import document_add
from carnet.enrollment.selectors import space_for_user
from tests.documents.conftest import image_bytes, pdf_bytes

CREATE = reverse("sharing:create")
# The link as the creation page shows it (once): /partage/v/<43 characters of base64url>/
LINK = re.compile(r"/partage/v/([A-Za-z0-9_-]{43})/")


def add(user, space, title: str, data: bytes, name: str = "document.pdf", **fields):
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
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def docs(alice, space):
    """Three documents of Alice's: two PDFs and a PNG, each with its own bytes."""
    return {
        "irm": add(alice, space, "Compte rendu IRM", pdf_bytes("IRM du genou")),
        "bilan": add(
            alice, space, "Bilan sanguin", pdf_bytes("Bilan sanguin"), category="BIOLOGIE"
        ),
        "photo": add(alice, space, "Photo eczéma", image_bytes(), name="photo.png"),
    }


def form(*, label="Urgences Lyon", documents=(), synthesis=False, validity="24h", passcode=""):
    data = {"label": label, "documents": [str(d.public_id) for d in documents]}
    if synthesis:
        data["include_synthesis"] = "on"
    data["validity"] = validity
    data["passcode"] = passcode
    return data


def create(client, **fields):
    """POST the creation form; returns (response, token) — token None when refused."""
    response = client.post(CREATE, form(**fields))
    found = LINK.search(response.content.decode())
    return response, (found[1] if found else None)


def viewer(token: str) -> str:
    return reverse("sharing:view", args=[token])


@pytest.fixture
def stranger():
    """Someone without an account, on another browser: the doctor abroad."""
    return Client()
