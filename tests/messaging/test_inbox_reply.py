"""Replying, drafts, attachments of a reply, and starting a conversation (the person's side)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from carnet.audit.models import Event
from carnet.messaging import services
from carnet.messaging.models import Attachment, Conversation, Draft, Message
from tests.consent.conftest import add_document
from tests.documents.conftest import image_bytes
from tests.messaging.conftest import authorise, make_professional, pro_writes

pytestmark = pytest.mark.django_db

NEW = reverse("messaging:new")


def conv_url(conv):
    return reverse("messaging:conversation", args=[conv.public_id])


def txt(name="note.txt", data=b"Bonjour docteur\n"):
    return SimpleUploadedFile(name, data, content_type="text/plain")


def person_messages(conv):
    return Message.objects.filter(conversation=conv, author_kind="usager")


def test_reply_with_attachments_from_device_and_documents(alice, alice_client, space, conversation):
    doc = add_document(alice, space, title="Ordonnance")
    png = SimpleUploadedFile("photo.png", image_bytes("PNG"), content_type="image/png")
    response = alice_client.post(
        conv_url(conversation),
        {"body": "Merci, voici.", "fichiers": [txt(), png], "documents": [str(doc.public_id)]},
    )
    assert response.status_code == 302
    [reply] = person_messages(conversation)
    assert services.message_text(reply) == "Merci, voici."
    names = sorted(a.filename for a in Attachment.objects.filter(message=reply))
    assert names == ["Ordonnance.pdf", "note.txt", "photo.png"]
    assert Event.objects.filter(action="message_envoye", space_id=space.public_id).exists()
    page = alice_client.get(conv_url(conversation)).text
    assert "Merci, voici." in page and "photo.png" in page


def test_forged_file_type_refused(alice_client, conversation):
    forged = SimpleUploadedFile("bilan.pdf", image_bytes("PNG"), content_type="application/pdf")
    response = alice_client.post(conv_url(conversation), {"body": "Voici", "fichiers": [forged]})
    assert response.status_code == 400
    assert "« bilan.pdf » : Ce fichier n&#x27;est pas un PDF valide" in response.text
    assert not person_messages(conversation).exists()


def test_eleven_files_refused(alice_client, conversation):
    files = [txt(f"note{n}.txt") for n in range(11)]
    response = alice_client.post(conv_url(conversation), {"body": "Voici", "fichiers": files})
    assert response.status_code == 400
    assert "Un message compte au plus 10 pièces jointes." in response.text
    assert not person_messages(conversation).exists()


def test_total_size_over_limit_refused(alice_client, settings, conversation):
    settings.CARNET = {**settings.CARNET, "MESSAGE_MAX_BYTES": 20}
    response = alice_client.post(
        conv_url(conversation), {"body": "Voici", "fichiers": [txt(), txt("b.txt")]}
    )
    assert response.status_code == 400
    assert not person_messages(conversation).exists()


def test_empty_reply_refused(alice_client, conversation):
    response = alice_client.post(conv_url(conversation), {"body": "   "})
    assert response.status_code == 400
    assert "Écrivez votre message." in response.text


def test_draft_kept_then_dropped_when_sent(alice_client, conversation):
    url = conv_url(conversation)
    response = alice_client.post(url, {"body": "Je réfléchis…", "action": "brouillon"})
    assert response.status_code == 302
    assert not person_messages(conversation).exists()
    assert Draft.objects.filter(conversation=conversation).exists()
    assert "Je réfléchis…</textarea>" in alice_client.get(url).text
    alice_client.post(url, {"body": "Je réfléchis encore", "action": "brouillon"})
    assert services.draft_text(conversation) == "Je réfléchis encore"
    assert Draft.objects.filter(conversation=conversation).count() == 1
    alice_client.post(url, {"body": "C'est décidé.", "action": "envoyer"})
    assert person_messages(conversation).count() == 1
    assert not Draft.objects.filter(conversation=conversation).exists()


def test_closed_conversation_shows_it_and_refuses_reply(alice_client, doctor, conversation):
    services.conversation_close(user=doctor.user, professional=doctor, conversation=conversation)
    page = alice_client.get(conv_url(conversation)).text
    assert "Le professionnel a clos cet échange" in page
    assert "<textarea" not in page
    response = alice_client.post(conv_url(conversation), {"body": "Encore une question"})
    assert response.status_code == 400
    assert not person_messages(conversation).exists()


def test_no_reply_message_refuses_reply(alice_client, doctor, space):
    conv = pro_writes(doctor, space, no_reply=True)
    page = alice_client.get(conv_url(conv)).text
    assert "Ce message ne permet pas de réponse." in page
    assert "<textarea" not in page
    assert alice_client.post(conv_url(conv), {"body": "Réponse"}).status_code == 400
    assert not person_messages(conv).exists()


def test_welcome_refuses_reply(alice_client, space):
    welcome = Conversation.objects.get(space=space, professional__isnull=True)
    assert alice_client.post(conv_url(welcome), {"body": "Bonjour"}).status_code == 400
    assert not person_messages(welcome).exists()


def test_start_with_a_professional_who_wrote(alice_client, space, doctor, conversation):
    form = alice_client.get(NEW)
    assert "Claire DUPONT" in form.text
    response = alice_client.post(
        NEW,
        {"professional": str(doctor.public_id), "subject": "Question", "body": "Bonjour"},
    )
    assert response.status_code == 302
    new = Conversation.objects.get(space=space, subject="Question")
    assert new.professional == doctor


def test_cannot_start_with_a_professional_who_never_wrote(alice, alice_client, space, doctor):
    stranger = make_professional(last_name="INCONNU")
    authorise(space, stranger)
    pro_writes(doctor, space)  # someone did write: the form is shown
    response = alice_client.post(
        NEW, {"professional": str(stranger.public_id), "subject": "Question", "body": "Bonjour"}
    )
    assert response.status_code == 400
    assert "Choisissez un professionnel de santé de la liste." in response.text
    assert not Conversation.objects.filter(space=space, subject="Question").exists()
    with pytest.raises(services.Refused):
        services.person_start(
            user=alice, space=space, professional=stranger, subject="Question", body="Bonjour"
        )


def test_cannot_start_once_the_exchange_is_closed(alice, alice_client, space, doctor, conversation):
    services.conversation_close(user=doctor.user, professional=doctor, conversation=conversation)
    assert "Aucun professionnel de santé ne vous a encore écrit." in alice_client.get(NEW).text
    response = alice_client.post(
        NEW, {"professional": str(doctor.public_id), "subject": "Question", "body": "Bonjour"}
    )
    assert response.status_code == 400
    with pytest.raises(services.Refused):
        services.person_start(
            user=alice, space=space, professional=doctor, subject="Question", body="Bonjour"
        )


def test_a_message_page_takes_a_body_larger_than_one_document(client, settings):
    """The body limit: one document's size elsewhere, a whole message's on the messaging pages
    (checked from Content-Length, before anything is read)."""
    big = str(settings.DOCUMENT_MAX_BYTES + settings.UPLOAD_BODY_OVERHEAD + 1)
    assert client.post("/documents/ajouter/", CONTENT_LENGTH=big).status_code == 413
    response = client.post("/messagerie/", CONTENT_LENGTH=big)
    assert response.status_code != 413
    too_big = str(settings.MESSAGE_BODY_MAX_BYTES + settings.UPLOAD_BODY_OVERHEAD + 1)
    assert client.post("/messagerie/", CONTENT_LENGTH=too_big).status_code == 413
