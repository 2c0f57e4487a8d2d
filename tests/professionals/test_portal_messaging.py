"""The professional portal's « Messagerie » of a patient: the list of this professional's
conversations, « Écrire au patient » (attachments checked as documents, « sans réponse »), the
thread and its reply, « Clore l'échange ». Every refusal is the 404 of a missing id."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from carnet.audit.models import Event
from carnet.enrollment.selectors import space_for_user
from carnet.messaging import services
from carnet.messaging.models import Attachment, Conversation, Message
from carnet.notifications.models import OutboxMessage
from tests.consent.conftest import (
    FINESS_HOSPITAL,
    _pdf,
    authorise,
    block,
    make_professional,
    make_treating,
)

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
MISSING = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def doctor(db):
    return make_professional("medecin", finess=FINESS_HOSPITAL, last_name="NOGUES")


def pro(client, professional):
    client.force_login(professional.user)
    return client


def url(space_id, suffix=""):
    return f"/pro/patients/{space_id}/messages/{suffix}"


def thread_url(conversation, suffix=""):
    return url(conversation.space.public_id, f"{conversation.public_id}/{suffix}")


def html(response) -> str:
    return CSRF.sub("", response.content.decode())


def start(professional, space, **overrides):
    values = {
        "user": professional.user,
        "professional": professional,
        "space": space,
        "subject": "Suite de votre consultation",
        "body": "Vos résultats sont normaux.",
    }
    values.update(overrides)
    return services.conversation_start(**values)


def mine(space):
    return Conversation.objects.filter(space=space, professional__isnull=False)


# --- The list and « Écrire au patient » ---------------------------------------------------


def test_the_page_lists_only_this_professionals_conversations(client, alice, space, doctor):
    authorise(space, doctor)
    other = make_professional("medecin", first_name="Paul")
    authorise(space, other)
    first = start(doctor, space, subject="Résultats de prise de sang")
    services.person_reply(user=alice, conversation=first, body="Merci")
    start(other, space, subject="Courrier du confrère")
    events = Event.objects.count()

    response = pro(client, doctor).get(url(space.public_id))

    assert response.status_code == 200
    text = response.content.decode()
    assert "Résultats de prise de sang" in text
    assert thread_url(first) in text
    assert "réponse du patient" in text
    assert "Courrier du confrère" not in text
    assert "Bienvenue dans votre messagerie" not in text
    assert "Écrire au patient" in text
    assert 'enctype="multipart/form-data"' in text
    assert "Le patient ne pourra pas répondre" in text
    # The page itself writes nothing.
    assert Event.objects.count() == events


def test_writing_to_the_patient_starts_a_conversation(client, alice, space, doctor):
    make_treating(space, doctor)
    pdf = SimpleUploadedFile("bilan.pdf", _pdf(), content_type="application/pdf")

    response = pro(client, doctor).post(
        url(space.public_id),
        {
            "subject": "Votre bilan",
            "body": "Voici votre bilan.\r\nBonne journée.",
            "attachments": [pdf],
        },
        REMOTE_ADDR="198.51.100.7",
    )

    [conversation] = mine(space)
    assert response.status_code == 302
    assert response["Location"] == thread_url(conversation)
    assert conversation.professional == doctor
    assert conversation.subject == "Votre bilan"
    [message] = Message.objects.filter(conversation=conversation)
    assert services.message_text(message) == "Voici votre bilan.\nBonne journée."
    assert not message.no_reply
    [attachment] = Attachment.objects.filter(message=message)
    assert attachment.filename == "bilan.pdf"
    assert attachment.media_type == "application/pdf"
    [event] = Event.objects.filter(space_id=space.public_id, action="message_recu")
    assert event.client == "198.51.100.7"
    assert event.detail["motif"] == "medecin_traitant"
    assert OutboxMessage.objects.filter(kind="nouveau_message", to=alice.email).count() == 1

    page = client.get(thread_url(conversation))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Voici votre bilan.<br>Bonne journée." in text
    assert "bilan.pdf" in text


def test_a_no_reply_message_cannot_be_answered(client, alice, space, doctor):
    authorise(space, doctor)
    pro(client, doctor).post(
        url(space.public_id),
        {"subject": "Information", "body": "Pas de réponse.", "no_reply": "on"},
    )
    [conversation] = mine(space)
    [message] = Message.objects.filter(conversation=conversation)
    assert message.no_reply
    with pytest.raises(services.Refused):
        services.person_reply(user=alice, conversation=conversation, body="Si !")
    assert (
        "Le patient ne peut pas répondre à ce message."
        in client.get(thread_url(conversation)).content.decode()
    )


@pytest.mark.parametrize(
    ("data", "files", "error"),
    [
        ({"subject": "", "body": "Bonjour"}, [], "Indiquez l&#x27;objet du message."),
        ({"subject": "Objet", "body": "  "}, [], "Écrivez votre message."),
        ({"subject": "x" * 201, "body": "Bonjour"}, [], "ne doit pas dépasser 200 caractères"),
        (
            {"subject": "Objet", "body": "Bonjour"},
            [("faux.pdf", b"MZ\x90\x00 not a pdf")],
            "« faux.pdf » : Ce fichier n&#x27;est pas",
        ),
        (
            {"subject": "Objet", "body": "Bonjour"},
            [(f"f{i}.pdf", b"%PDF-1.4") for i in range(11)],
            "au plus 10 pièces jointes",
        ),
    ],
)
def test_bad_input_changes_nothing_and_says_why_in_french(
    client, space, doctor, data, files, error
):
    authorise(space, doctor)
    uploads = [SimpleUploadedFile(n, d, content_type="application/pdf") for n, d in files]
    response = pro(client, doctor).post(url(space.public_id), {**data, "attachments": uploads})
    assert response.status_code == 400
    text = response.content.decode()
    assert error in text
    assert "error-summary" in text
    assert not mine(space).exists()
    assert not OutboxMessage.objects.filter(kind="nouveau_message").exists()


def test_more_than_20_mb_is_refused(client, space, doctor, settings):
    authorise(space, doctor)
    settings.CARNET = {**settings.CARNET, "MESSAGE_MAX_BYTES": 1000}
    big = SimpleUploadedFile("a.pdf", _pdf() + b"0" * 1000, content_type="application/pdf")
    response = pro(client, doctor).post(
        url(space.public_id), {"subject": "Objet", "body": "Bonjour", "attachments": [big]}
    )
    assert response.status_code == 400
    assert "ne doivent pas dépasser" in response.content.decode()
    assert not mine(space).exists()


# --- The thread, the reply, closing -------------------------------------------------------


def test_the_professional_reads_the_thread_and_replies(client, alice, space, doctor):
    authorise(space, doctor)
    conversation = start(doctor, space)
    services.person_reply(user=alice, conversation=conversation, body="Dois-je revenir ?")

    text = pro(client, doctor).get(thread_url(conversation)).content.decode()
    assert "Vos résultats sont normaux." in text
    assert "Dois-je revenir ?" in text
    assert text.index("Vos résultats") < text.index("Dois-je revenir")
    assert "Clore l'échange" in text
    # The patient's replies were read: one line in the patient's trail.
    [read] = Event.objects.filter(action="conversation_lue_professionnel")
    assert (read.actor, read.object_id) == (doctor.user.actor, str(conversation.public_id))

    response = client.post(thread_url(conversation), {"body": "Dans six mois."})
    assert response.status_code == 302
    thread = list(Message.objects.filter(conversation=conversation).order_by("sent_at", "id"))
    assert [m.author_kind for m in thread] == ["professionnel", "usager", "professionnel"]
    assert services.message_text(thread[-1]) == "Dans six mois."
    assert Event.objects.filter(action="conversation_lue_professionnel").count() == 1


def _reply_with_file(alice, conversation, data):
    return services.person_reply(
        user=alice,
        conversation=conversation,
        body="Voici mon bilan.",
        files=[services.OutgoingFile("mon bilan.pdf", data, "application/pdf", "pdf")],
    )


def test_the_professional_downloads_the_patients_attachment(client, alice, space, doctor):
    authorise(space, doctor)
    conversation = start(doctor, space)
    data = _pdf()
    reply = _reply_with_file(alice, conversation, data)
    [attachment] = Attachment.objects.filter(message=reply)
    link = thread_url(conversation, f"pieces-jointes/{attachment.public_id}/")

    page = pro(client, doctor).get(thread_url(conversation)).content.decode()
    assert f'href="{link}"' in page
    response = client.get(link)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Security-Policy"] == "sandbox"
    # In the patient's trail, by this professional.
    [event] = Event.objects.filter(action="piece_jointe_telechargement")
    assert (event.actor, event.object_id) == (doctor.user.actor, str(attachment.public_id))


def test_an_attachment_outside_the_professionals_thread_is_a_404(client, alice, space, doctor):
    authorise(space, doctor)
    other = make_professional("medecin", first_name="Paul")
    authorise(space, other)
    mine_thread, theirs = start(doctor, space), start(other, space)
    [attachment] = Attachment.objects.filter(message=_reply_with_file(alice, theirs, _pdf()))
    pro(client, doctor)
    for link in (
        thread_url(mine_thread, f"pieces-jointes/{attachment.public_id}/"),  # not of this thread
        thread_url(theirs, f"pieces-jointes/{attachment.public_id}/"),  # not this pro's thread
        thread_url(mine_thread, f"pieces-jointes/{MISSING}/"),
    ):
        assert client.get(link).status_code == 404
    block(space, doctor)  # blocked: even their own thread's files
    [own] = Attachment.objects.filter(message=_reply_with_file(alice, mine_thread, _pdf()))
    assert (
        client.get(thread_url(mine_thread, f"pieces-jointes/{own.public_id}/")).status_code == 404
    )
    assert not Event.objects.filter(action="piece_jointe_telechargement").exists()


def test_a_conversation_the_patient_deleted_is_gone_for_the_professional(
    client, alice, space, doctor
):
    authorise(space, doctor)
    conversation = start(doctor, space)
    [attachment] = Attachment.objects.filter(message=_reply_with_file(alice, conversation, _pdf()))
    services.conversation_delete(user=alice, conversation=conversation)
    pro(client, doctor)
    assert conversation.subject not in client.get(url(space.public_id)).content.decode()
    assert client.get(thread_url(conversation)).status_code == 404
    link = thread_url(conversation, f"pieces-jointes/{attachment.public_id}/")
    assert client.get(link).status_code == 404


def test_a_head_request_decrypts_nothing(client, alice, space, doctor):
    authorise(space, doctor)
    conversation = start(doctor, space)
    [attachment] = Attachment.objects.filter(message=_reply_with_file(alice, conversation, _pdf()))
    link = thread_url(conversation, f"pieces-jointes/{attachment.public_id}/")
    assert pro(client, doctor).head(link).status_code == 405
    assert not Event.objects.filter(action="piece_jointe_telechargement").exists()


def test_a_refused_thread_is_a_404_and_is_not_in_the_trail(client, alice, space, doctor):
    authorise(space, doctor)
    conversation = start(doctor, space)
    block(space, doctor)
    assert pro(client, doctor).get(thread_url(conversation)).status_code == 404
    assert not Event.objects.filter(action="conversation_lue_professionnel").exists()


def test_closing_asks_for_confirmation_then_closes(client, alice, space, doctor):
    authorise(space, doctor)
    conversation = start(doctor, space)
    pro(client, doctor)

    confirm = client.get(thread_url(conversation, "clore/"))
    assert confirm.status_code == 200
    assert "Clore l'échange ?" in confirm.content.decode()
    conversation.refresh_from_db()
    assert conversation.closed_at is None

    response = client.post(thread_url(conversation, "clore/"))
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.closed_at is not None
    assert Event.objects.filter(action="conversation_close", actor=doctor.user.actor).count() == 1
    with pytest.raises(services.Refused):
        services.person_reply(user=alice, conversation=conversation, body="Encore une question")
    text = client.get(thread_url(conversation)).content.decode()
    assert "le patient ne peut plus y répondre" in text
    assert thread_url(conversation, "clore/") not in text


# --- Who may reach these pages ------------------------------------------------------------


@pytest.mark.parametrize("page", ["list", "thread", "close"])
def test_every_refusal_is_the_404_of_a_missing_id_and_writes_nothing(
    client, professional, bob, space, doctor, page
):
    authorise(space, doctor)
    conversation = start(doctor, space)
    other = make_professional("medecin", first_name="Paul")
    authorise(space, other)
    others = start(other, space)
    before = (Message.objects.count(), Event.objects.count())

    def target(space_id, conv):
        if page == "list":
            return url(space_id)
        return url(space_id, f"{conv}/" + ("clore/" if page == "close" else ""))

    pro(client, doctor)
    missing = client.get(target(MISSING, MISSING))
    assert missing.status_code == 404
    same = []  # by the same account as `missing`: the very same page
    if page != "list":
        # Another professional's conversation, or a missing one, in a space they may reach.
        same.append(client.get(target(space.public_id, others.public_id)))
        same.append(client.get(target(space.public_id, MISSING)))
        same.append(client.post(target(space.public_id, others.public_id), {"body": "x"}))
    # A professional without any basis.
    stranger = pro(Client(), make_professional("medecin", first_name="Marc"))
    responses = [
        stranger.get(target(space.public_id, conversation.public_id)),
        stranger.post(target(space.public_id, conversation.public_id), {"body": "x"}),
    ]
    block(space, doctor)
    same.append(client.get(target(space.public_id, conversation.public_id)))
    same.append(
        client.post(target(space.public_id, conversation.public_id), {"subject": "x", "body": "x"})
    )
    bob_space = space_for_user(bob)
    authorise(bob_space, other)
    bob_conv = start(other, bob_space)
    bob_space.state = bob_space.State.CLOSED
    bob_space.save(update_fields=["state"])
    other_client = pro(Client(), other)
    responses.append(other_client.get(target(bob_space.public_id, bob_conv.public_id)))
    unlinked = Client()
    unlinked.force_login(professional)
    responses.append(unlinked.get(target(space.public_id, conversation.public_id)))

    responses += same
    assert {r.status_code for r in responses} == {404}
    assert {html(r) for r in same} == {html(missing)}
    for response in responses:
        text = response.content.decode()
        assert "Alice" not in text and "Suite de votre consultation" not in text
    after_bob = 1  # bob's conversation, started above
    assert Message.objects.count() == before[0] + after_bob
    conversation.refresh_from_db()
    assert conversation.closed_at is None


def test_a_pending_space_receives_no_message_from_the_portal(client, issue_code, doctor):
    issued = issue_code(first_name="Chloé")
    from carnet.enrollment.models import Space

    pending = Space.objects.get(person=issued.person)
    authorise(pending, doctor)
    pro(client, doctor)
    assert client.get(url(pending.public_id)).status_code == 404
    response = client.post(url(pending.public_id), {"subject": "Objet", "body": "Bonjour"})
    assert response.status_code == 404
    assert not Conversation.objects.filter(space=pending).exists()


# --- « Accès SMTP à la messagerie » ---------------------------------------------------------

SMTP = "/pro/messagerie/acces-smtp/"


def test_the_smtp_password_is_generated_and_shown_once(client, doctor):
    from carnet.messaging.gateway_services import credential_check
    from carnet.messaging.models import MessagingCredential

    doctor.messaging_address = "claire.nogues@medecin.mssante.exemple.fr"
    doctor.save(update_fields=["messaging_address"])
    pro(client, doctor)
    page = client.get(SMTP)
    assert page.status_code == 200
    text = page.content.decode()
    assert "aucun : générez-en un" in text
    assert doctor.rpps in text

    generated = client.post(SMTP)

    assert generated.status_code == 200
    [credential] = MessagingCredential.objects.filter(professional=doctor)
    secret = re.search(r'<code class="secret">([^<]+)</code>', generated.content.decode())[1]
    assert secret not in credential.secret_hash  # stored hashed only
    assert credential_check(doctor.rpps, secret) == doctor
    again = client.get(SMTP).content.decode()
    assert secret not in again
    assert "créé le" in again
    # A new one replaces it.
    client.post(SMTP)
    assert credential_check(doctor.rpps, secret) is None


def test_no_smtp_password_without_a_messaging_address(client, doctor):
    from carnet.messaging.models import MessagingCredential

    doctor.messaging_address = ""
    doctor.save(update_fields=["messaging_address"])
    response = pro(client, doctor).post(SMTP)
    assert response.status_code == 400
    assert "adresse de messagerie sécurisée" in response.content.decode()
    assert not MessagingCredential.objects.exists()


def test_the_smtp_page_is_for_directory_professionals_only(client, professional, alice):
    unlinked = Client()
    unlinked.force_login(professional)
    assert unlinked.get(SMTP).status_code == 404
    assert unlinked.post(SMTP).status_code == 404
    patient = Client()
    patient.force_login(alice)
    assert patient.post(SMTP).status_code in (302, 403, 404)
