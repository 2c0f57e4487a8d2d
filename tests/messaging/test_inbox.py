"""The inbox (/messagerie/): list, search, unread, archive, delete, isolation, XSS."""

from datetime import timedelta

import pytest
from django.urls import reverse

from carnet.audit.models import Event
from carnet.core import clock
from carnet.messaging import services
from carnet.messaging.models import Conversation
from carnet.messaging.services import OutgoingFile
from tests.messaging.conftest import authorise, make_professional, pro_writes

pytestmark = pytest.mark.django_db

INDEX = reverse("messaging:index")


def conv_url(conv, name="messaging:conversation"):
    return reverse(name, args=[conv.public_id])


def test_welcome_message_after_activation(alice_client, space):
    response = alice_client.get(INDEX)
    assert response.status_code == 200
    assert "Bienvenue dans votre messagerie" in response.text
    assert "Mon adresse de messagerie à communiquer à mes professionnels de santé" in response.text
    assert services.patient_address(space) in response.text
    welcome = Conversation.objects.get(space=space, professional__isnull=True)
    page = alice_client.get(conv_url(welcome))
    assert services.patient_address(space) in page.text
    assert "Répondre" not in page.text  # the service's message has no reply box


def test_list_newest_first_with_correspondent_and_badges(alice_client, space, doctor):
    older = pro_writes(doctor, space, subject="Premier échange")
    clock.set_offset(timedelta(hours=1))
    pro_writes(
        doctor,
        space,
        subject="Second échange",
        files=[OutgoingFile("note.txt", b"Bonjour\n", "text/plain; charset=utf-8", "txt")],
    )
    text = alice_client.get(INDEX).text
    assert text.index("Second échange") < text.index("Premier échange")
    assert "Claire DUPONT, Médecin (Médecine générale), Hôpital Fictif" in text
    assert "Non lu" in text
    assert text.count("Avec pièces jointes") == 1
    alice_client.get(conv_url(older))  # read
    row = alice_client.get(INDEX).text.split("Premier échange")[1][:200]
    assert "Non lu" not in row


def test_search_by_correspondent_or_subject(alice_client, space, doctor):
    other = make_professional(last_name="MARTIN", first_name="Luc", establishment="")
    authorise(space, other)
    pro_writes(doctor, space, subject="Vaccination")
    pro_writes(other, space, subject="Rendez-vous")
    by_subject = alice_client.get(INDEX, {"q": "vaccin"}).text
    assert "Vaccination" in by_subject and "Rendez-vous" not in by_subject
    by_name = alice_client.get(INDEX, {"q": "martin"}).text
    assert "Rendez-vous" in by_name and "Vaccination" not in by_name
    none = alice_client.get(INDEX, {"q": "introuvable"}).text
    assert "Aucune conversation ne correspond" in none


def test_archive_and_unarchive(alice_client, space, conversation):
    url = conv_url(conversation, "messaging:archive")
    assert alice_client.post(url, {"valeur": "1"}).status_code == 302
    assert "Résultats de votre bilan" not in alice_client.get(INDEX).text
    assert "Résultats de votre bilan" in alice_client.get(INDEX, {"archives": "1"}).text
    alice_client.post(url, {"valeur": "0"})
    assert "Résultats de votre bilan" in alice_client.get(INDEX).text
    actions = list(
        Event.objects.filter(space_id=space.public_id, object_id=str(conversation.public_id))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["conversation_archivee", "conversation_desarchivee"]


def test_delete_asks_confirmation_then_soft_deletes(alice_client, space, conversation):
    url = conv_url(conversation, "messaging:delete")
    confirm = alice_client.get(url)
    assert confirm.status_code == 200
    assert (
        "les messages et les pièces jointes de cette conversation ne seront plus accessibles"
        in (confirm.text)
    )
    conversation.refresh_from_db()
    assert conversation.deleted_at is None
    assert alice_client.post(url).status_code == 302
    conversation.refresh_from_db()
    assert conversation.deleted_at is not None  # soft: the row stays for the retention
    assert conv_url(conversation) not in alice_client.get(INDEX).text
    assert alice_client.get(conv_url(conversation)).status_code == 404
    assert Event.objects.filter(action="conversation_supprimee", space_id=space.public_id).exists()


def test_read_shows_messages_in_order_with_author_and_date(alice_client, space, doctor):
    conv = pro_writes(doctor, space, body="Premier message")
    clock.set_offset(timedelta(minutes=5))
    services.professional_reply(
        user=doctor.user, professional=doctor, conversation=conv, body="Deuxième message"
    )
    response = alice_client.get(conv_url(conv))
    assert response.status_code == 200
    text = response.text
    assert text.index("Premier message") < text.index("Deuxième message")
    assert "Claire DUPONT" in text and "<time datetime=" in text
    conv.refresh_from_db()
    assert conv.read_until is not None


def test_another_space_is_404(client, bob, space, conversation):
    client.force_login(bob)
    for name in ("messaging:conversation", "messaging:delete"):
        assert client.get(conv_url(conversation, name)).status_code == 404
    assert client.post(
        conv_url(conversation, "messaging:archive"), {"valeur": "1"}
    ).status_code == (404)
    assert client.post(conv_url(conversation), {"body": "Intrus"}).status_code == 404
    assert "Résultats de votre bilan" not in client.get(INDEX).text


def test_stored_xss_renders_inert(alice_client, space, doctor):
    body = '<script>alert(1)</script>\n<a href="javascript:alert(2)">clic</a> javascript:alert(3)'
    conv = pro_writes(
        doctor,
        space,
        subject="<script>alert(4)</script>",
        body=body,
        files=[
            OutgoingFile(
                "<img src=x onerror=alert(5)>.txt", b"texte\n", "text/plain; charset=utf-8", "txt"
            )
        ],
    )
    for url in (INDEX, conv_url(conv)):
        text = alice_client.get(url).text
        assert "<script>alert" not in text
        assert 'href="javascript:' not in text
        assert "<img src=x" not in text
    text = alice_client.get(conv_url(conv)).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>" in text
    assert "&lt;img src=x onerror=alert(5)&gt;.txt" in text


def test_navigation_and_home_link_lead_to_the_inbox(alice_client):
    assert INDEX == "/messagerie/"
    page = alice_client.get(INDEX).text
    assert f'<a href="{INDEX}" aria-current="page">Messagerie</a>' in page
    assert f'href="{INDEX}"' in alice_client.get("/").text


def test_pagination_keeps_newest_first(alice_client, space, doctor):
    for n in range(21):
        clock.set_offset(timedelta(minutes=n))
        pro_writes(doctor, space, subject=f"Sujet numéro {n:02d}")
    first = alice_client.get(INDEX).text
    assert "Sujet numéro 20" in first and "Page 1 sur 2" in first
    second = alice_client.get(INDEX, {"page": "2"}).text
    assert "Sujet numéro 00" in second and "Sujet numéro 20" not in second
