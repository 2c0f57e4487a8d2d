"""A received attachment: Voir, Télécharger, Enregistrer dans mes documents (all audited)."""

import pytest
from django.urls import reverse

from carnet.audit.models import Event
from carnet.documents.models import Document
from carnet.messaging.models import Attachment
from carnet.messaging.services import OutgoingFile, RefusedFile
from tests.consent.conftest import _pdf
from tests.messaging.conftest import pro_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def attachment(doctor, space):
    conv = pro_writes(
        doctor,
        space,
        files=[OutgoingFile("compte-rendu.pdf", _pdf(), "application/pdf", "pdf")],
        refused=[RefusedFile("virus.exe", "format non accepté")],
    )
    return Attachment.objects.get(message__conversation=conv, blob__isnull=False)


def url(attachment, name="messaging:attachment"):
    return reverse(name, args=[attachment.public_id])


def events(space, action):
    return Event.objects.filter(space_id=space.public_id, action=action)


def test_listed_with_its_actions_and_refused_one(alice_client, attachment):
    conv = attachment.message.conversation
    page = alice_client.get(reverse("messaging:conversation", args=[conv.public_id])).text
    assert "compte-rendu.pdf" in page
    assert url(attachment) in page and url(attachment, "messaging:attachment_save") in page
    assert "Voir<" in page and "Télécharger<" in page
    assert "virus.exe</span> : pièce jointe refusée (format non accepté)" in page


def test_view_inline_in_a_sandbox_audited(alice_client, space, attachment):
    response = alice_client.get(url(attachment))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == _pdf()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "attachment" not in response.get("Content-Disposition", "")
    assert events(space, "piece_jointe_consultation").count() == 1


def test_download_audited(alice_client, space, attachment):
    response = alice_client.get(url(attachment), {"telecharger": "1"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "compte-rendu.pdf" in response["Content-Disposition"]
    assert events(space, "piece_jointe_telechargement").count() == 1


def test_save_to_documents(alice_client, space, attachment):
    form = alice_client.get(url(attachment, "messaging:attachment_save"))
    assert form.status_code == 200 and 'value="compte-rendu"' in form.text
    refused = alice_client.post(url(attachment, "messaging:attachment_save"), {"title": "Bilan"})
    assert refused.status_code == 400 and "Choisissez une catégorie." in refused.text
    response = alice_client.post(
        url(attachment, "messaging:attachment_save"),
        {"title": "Bilan sanguin", "category": "CPT_REND", "document_date": "2026-11-02"},
    )
    assert response.status_code == 302
    doc = Document.objects.get(space=space, title="Bilan sanguin")
    assert doc.category == "CPT_REND" and doc.media_type == "application/pdf"
    assert doc.size == len(_pdf())
    [event] = events(space, "piece_jointe_enregistree")
    assert event.detail["document"] == str(doc.public_id)
    assert events(space, "document_ajout").filter(object_id=str(doc.public_id)).exists()
    assert alice_client.get(reverse("documents:detail", args=[doc.public_id])).status_code == 200


def test_another_space_attachment_is_404(client, bob, attachment):
    client.force_login(bob)
    assert client.get(url(attachment)).status_code == 404
    assert client.get(url(attachment, "messaging:attachment_save")).status_code == 404
    response = client.post(
        url(attachment, "messaging:attachment_save"),
        {"title": "Vol", "category": "CPT_REND", "document_date": "2026-11-02"},
    )
    assert response.status_code == 404


def test_refused_attachment_cannot_be_opened(alice_client, attachment):
    refused = Attachment.objects.get(message=attachment.message, blob__isnull=True)
    assert alice_client.get(url(refused)).status_code == 404
