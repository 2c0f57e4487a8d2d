"""Real small files for the documents tests (the patients alice and bob are in
tests/conftest.py)."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile


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
