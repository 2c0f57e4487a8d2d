"""Fixtures of the documents tests: patients with an active space, and real small files."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.enrollment.helpers import activate


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email="alice.martin@exemple.fr")
    return activate(issued, identifier="alice.martin")


@pytest.fixture
def bob(issue_code):
    issued = issue_code(first_name="Bob", email="bob.durand@exemple.fr")
    return activate(issued, identifier="bob.durand")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def pdf_bytes(text: str = "Compte rendu de consultation", pages: int = 1) -> bytes:
    """A real PDF, written by fpdf2 (the library of the synthesis)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for n in range(pages):
        pdf.add_page()
        pdf.cell(text=f"{text} - page {n + 1}")
    return bytes(pdf.output())


def image_bytes(fmt: str = "PNG", size=(32, 24)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def form_data(file, **fields):
    data = {"title": "", "category": "CPT_REND", "document_date": "2026-11-02", "file": file}
    data.update(fields)
    return data
