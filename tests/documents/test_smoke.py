"""The main journey through the views: add, list, view, edit, pin, hide, delete, restore."""

import pytest

from carnet.audit.models import Event
from carnet.documents.models import Document

from .conftest import form_data, pdf_bytes, upload

pytestmark = pytest.mark.django_db


def test_add_view_and_manage_a_pdf(alice_client):
    data = pdf_bytes()
    response = alice_client.post(
        "/documents/ajouter/", form_data(upload("Compte-rendu cardio.pdf", data))
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    doc = Document.objects.get()
    assert doc.title == "Compte-rendu cardio"
    assert doc.media_type == "application/pdf"
    listing = alice_client.get("/documents/")
    assert "Compte-rendu cardio" in listing.content.decode()
    assert "1 - 1 sur 1" in listing.content.decode()
    file = alice_client.get(f"/documents/{doc.public_id}/fichier/")
    assert file.status_code == 200
    assert b"".join(file.streaming_content) == data
    assert file["Content-Type"] == "application/pdf"
    assert file["Content-Security-Policy"] == "sandbox"
    assert file["Content-Disposition"].startswith("inline")
    alice_client.post(f"/documents/{doc.public_id}/masquer/")
    alice_client.post(f"/documents/{doc.public_id}/epingler/")
    doc.refresh_from_db()
    assert doc.hidden and doc.pinned
    alice_client.post(f"/documents/{doc.public_id}/supprimer/")
    alice_client.get("/")  # the confirmation message names the document once
    assert "Compte-rendu cardio" not in alice_client.get("/documents/").content.decode()
    assert "Compte-rendu cardio" in alice_client.get("/documents/supprimes/").content.decode()
    alice_client.post(f"/documents/{doc.public_id}/restaurer/")
    assert "Compte-rendu cardio" in alice_client.get("/documents/").content.decode()
    actions = list(Event.objects.filter(object_type="document").values_list("action", flat=True))
    assert "document_consultation" in actions and "document_restauration" in actions
    trail = alice_client.get("/parametres/activites/?sujet=documents").content.decode()
    assert "Consultation d&#x27;un document" in trail or "Consultation d'un document" in trail
