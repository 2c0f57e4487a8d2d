"""The rules of the secure messaging, through the services (nothing of ours mocked): who starts,
who replies, closing, encryption at rest, notifications without content, the audit trail, the
welcome message, the attachment limits, and the purge."""

from datetime import timedelta

import pytest
from django.conf import settings

from carnet.accounts.models import NotificationPreference
from carnet.audit.models import Event
from carnet.core import clock
from carnet.core.models import Blob
from carnet.enrollment import services as enrollment
from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user
from carnet.messaging import services
from carnet.messaging.models import Attachment, Conversation, Message
from carnet.notifications.models import OutboxMessage
from tests.consent.conftest import (
    FINESS_HOSPITAL,
    authorise,
    block,
    make_professional,
    make_treating,
)
from tests.enrollment.helpers import activate

pytestmark = pytest.mark.django_db

SECRET = "Vos résultats d'hémoglobine glyquée sont à 9,1 %"
NOTICE = "Vous avez reçu un nouveau message dans votre messagerie de santé"


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def doctor(db):
    return make_professional("medecin", finess=FINESS_HOSPITAL, last_name="NOGUES")


def start(professional, space, **overrides):
    values = {
        "user": professional.user,
        "professional": professional,
        "space": space,
        "subject": "Suite de votre consultation",
        "body": SECRET,
    }
    values.update(overrides)
    return services.conversation_start(**values)


def messages_of(conversation):
    return list(Message.objects.filter(conversation=conversation).order_by("sent_at", "id"))


def outbox(kind="nouveau_message"):
    return OutboxMessage.objects.filter(kind=kind)


def pdf(name="resultat.pdf", size=0):
    data = b"%PDF-1.4\n" + b"0" * size
    return services.OutgoingFile(
        filename=name, data=data, media_type="application/pdf", extension="pdf"
    )


def written():
    """What a refused call must leave untouched (besides the welcome messages)."""
    return (
        Conversation.objects.filter(professional__isnull=False).count(),
        Message.objects.exclude(author_kind=Message.AuthorKind.SERVICE).count(),
        Attachment.objects.count(),
        Blob.objects.count(),
        Event.objects.count(),
        outbox().count(),
    )


# --- Who starts a conversation ------------------------------------------------------------


@pytest.mark.parametrize("basis", ["autorise", "equipe", "medecin_traitant"])
def test_a_professional_with_consent_starts_a_conversation(space, doctor, basis):
    if basis == "autorise":
        authorise(space, doctor)
    elif basis == "medecin_traitant":
        make_treating(space, doctor)
    else:  # a colleague of the same establishment as an authorised professional
        authorise(space, make_professional("medecin", finess=FINESS_HOSPITAL))

    conversation = start(doctor, space)

    conversation.refresh_from_db()
    assert conversation.professional == doctor
    assert conversation.subject == "Suite de votre consultation"
    assert conversation.thread_id
    [message] = messages_of(conversation)
    assert message.author_kind == Message.AuthorKind.PROFESSIONAL
    assert message.author_name == "Claire NOGUES"
    assert message.channel == Message.Channel.PORTAL
    assert services.message_text(message) == SECRET
    [event] = Event.objects.filter(space_id=space.public_id, action="message_recu")
    assert event.actor == doctor.user.actor
    assert event.object_id == str(conversation.public_id)
    assert event.detail["motif"] == basis
    # No « Ajout d'un document » in the patient's history for a message.
    assert not Event.objects.filter(action="acces_document_ajout").exists()


def test_a_professional_without_consent_is_refused_and_nothing_is_written(space, doctor):
    before = written()
    with pytest.raises(services.Refused):
        start(doctor, space, files=[pdf()])
    assert written() == before


def test_a_blocked_professional_is_refused_and_nothing_is_written(space, doctor):
    authorise(space, doctor)  # (a médecin traitant cannot be blocked: consent's rule)
    block(space, doctor)
    before = written()
    with pytest.raises(services.Refused):
        start(doctor, space)
    assert written() == before


@pytest.mark.parametrize("state", [Space.State.CLOSED, Space.State.PENDING])
def test_a_closed_or_pending_space_receives_nothing(space, doctor, state):
    authorise(space, doctor)
    Space.objects.filter(pk=space.pk).update(state=state)
    space.refresh_from_db()
    before = written()
    with pytest.raises(services.Refused):
        start(doctor, space)
    assert written() == before


def test_an_empty_subject_or_body_is_refused_in_french(space, doctor):
    authorise(space, doctor)
    before = written()
    with pytest.raises(services.MessagingError, match="objet"):
        start(doctor, space, subject="  ")
    with pytest.raises(services.MessagingError, match="Écrivez"):
        start(doctor, space, body="\n ")
    assert written() == before


# --- The person replies, within the rules -------------------------------------------------


def test_the_person_replies_and_the_professional_answers(alice, space, doctor):
    authorise(space, doctor)
    conversation = start(doctor, space)

    reply = services.person_reply(user=alice, conversation=conversation, body="Merci docteur.")

    assert reply.author_kind == Message.AuthorKind.PERSON
    assert reply.in_reply_to == messages_of(conversation)[0].message_id
    assert services.message_text(reply) == "Merci docteur."
    conversation.refresh_from_db()
    assert conversation.read_until == reply.sent_at
    assert Event.objects.filter(
        space_id=space.public_id, action="message_envoye", actor=alice.actor
    ).exists()
    again = services.professional_reply(
        user=doctor.user, professional=doctor, conversation=conversation, body="Bien reçu."
    )
    assert [m.author_kind for m in messages_of(conversation)] == [
        "professionnel",
        "usager",
        "professionnel",
    ]
    assert services.message_text(again) == "Bien reçu."


def test_another_professional_cannot_write_in_or_close_a_conversation(space, doctor):
    authorise(space, doctor)
    other = make_professional("medecin")
    authorise(space, other)
    conversation = start(doctor, space)
    with pytest.raises(services.Refused):
        services.professional_reply(
            user=other.user, professional=other, conversation=conversation, body="Intrus"
        )
    with pytest.raises(services.Refused):
        services.conversation_close(user=other.user, professional=other, conversation=conversation)
    conversation.refresh_from_db()
    assert conversation.closed_at is None
    assert len(messages_of(conversation)) == 1


def test_no_reply_to_a_closed_conversation(alice, space, doctor):
    authorise(space, doctor)
    conversation = start(doctor, space)

    services.conversation_close(user=doctor.user, professional=doctor, conversation=conversation)
    services.conversation_close(user=doctor.user, professional=doctor, conversation=conversation)

    conversation.refresh_from_db()
    assert conversation.closed_at is not None
    assert Event.objects.filter(action="conversation_close", actor=doctor.user.actor).count() == 1
    with pytest.raises(services.Refused, match="clos"):
        services.person_reply(user=alice, conversation=conversation, body="Une question ?")
    assert len(messages_of(conversation)) == 1


def test_no_reply_to_a_no_reply_message(alice, space, doctor):
    authorise(space, doctor)
    conversation = start(doctor, space, no_reply=True)
    with pytest.raises(services.Refused, match="ne permet pas"):
        services.person_reply(user=alice, conversation=conversation, body="Une question ?")
    assert len(messages_of(conversation)) == 1


def test_no_reply_to_the_welcome_message(alice, space):
    welcome = Conversation.objects.get(space=space, professional__isnull=True)
    with pytest.raises(services.Refused):
        services.person_reply(user=alice, conversation=welcome, body="Bonjour")
    assert len(messages_of(welcome)) == 1


def test_the_person_starts_a_conversation_only_with_a_correspondent(alice, space, doctor):
    stranger = make_professional("medecin")
    assert list(services.correspondents(space)) == []
    with pytest.raises(services.Refused):
        services.person_start(
            user=alice, space=space, professional=doctor, subject="Question", body="Bonjour"
        )
    authorise(space, doctor)
    first = start(doctor, space)
    assert list(services.correspondents(space)) == [doctor]

    mine = services.person_start(
        user=alice, space=space, professional=doctor, subject="Autre question", body="Bonjour"
    )

    assert mine.professional == doctor
    [message] = messages_of(mine)
    assert message.author_kind == Message.AuthorKind.PERSON
    with pytest.raises(services.Refused):
        services.person_start(
            user=alice, space=space, professional=stranger, subject="Question", body="Bonjour"
        )
    with pytest.raises(services.Refused):
        services.person_start(
            user=alice, space=space, professional=None, subject="Question", body="Bonjour"
        )
    # Closed by the professional: no longer a correspondent, even with the person's own
    # conversation still open.
    services.conversation_close(user=doctor.user, professional=doctor, conversation=first)
    assert list(services.correspondents(space)) == []
    with pytest.raises(services.Refused):
        services.person_start(
            user=alice, space=space, professional=doctor, subject="Encore", body="Bonjour"
        )


def test_another_patients_correspondent_is_not_mine(alice, bob, space, doctor):
    bob_space = space_for_user(bob)
    authorise(bob_space, doctor)
    start(doctor, bob_space)
    assert list(services.correspondents(space)) == []
    with pytest.raises(services.Refused):
        services.person_start(
            user=alice, space=space, professional=doctor, subject="Question", body="Bonjour"
        )


# --- Encryption at rest -------------------------------------------------------------------


def test_the_body_and_attachments_are_encrypted_on_disk(space, doctor):
    authorise(space, doctor)
    attachment = b"%PDF-1.4\nCONFIDENTIEL-HBA1C-9,1\n"
    conversation = start(
        doctor,
        space,
        files=[
            services.OutgoingFile(
                filename="bilan.pdf", data=attachment, media_type="application/pdf", extension="pdf"
            )
        ],
    )
    [message] = messages_of(conversation)
    [stored] = Attachment.objects.filter(message=message)
    assert stored.size == len(attachment)
    files = {p.name: p for p in settings.BLOB_DIR.rglob("*") if p.is_file()}
    for blob in (message.body, stored.blob):
        [path] = [p for name, p in files.items() if blob.key in name]
        raw = path.read_bytes()
        assert SECRET.encode() not in raw and b"HBA1C" not in raw
    assert services.message_text(message) == SECRET


# --- Notifications: that something came, never what ---------------------------------------


def test_the_notice_names_no_sender_subject_or_content(alice, space, doctor):
    authorise(space, doctor)
    start(doctor, space, subject="Résultats de votre biopsie")
    [email] = outbox()
    assert email.channel == OutboxMessage.Channel.EMAIL
    assert email.to == alice.email
    text = f"{email.subject}\n{email.body}"
    assert NOTICE in text
    for private in ("NOGUES", "Claire", "biopsie", "hémoglobine", SECRET):
        assert private not in text


@pytest.mark.parametrize(
    ("email", "sms", "channels"),
    [
        (True, False, {"email"}),
        (False, True, {"sms"}),
        (True, True, {"email", "sms"}),
        (False, False, set()),
    ],
)
def test_the_notice_follows_the_preferences(alice, space, doctor, email, sms, channels):
    alice.mobile, alice.mobile_verified = "+33612345678", True
    alice.save(update_fields=["mobile", "mobile_verified"])
    NotificationPreference.objects.update_or_create(
        user=alice, defaults={"new_message_email": email, "new_message_sms": sms}
    )
    authorise(space, doctor)
    start(doctor, space)
    assert {m.channel for m in outbox()} == channels
    for message in outbox():
        assert "NOGUES" not in message.body and "Suite" not in message.body
        assert "nouveau message" in message.body
    texts = [m.body for m in outbox().filter(channel=OutboxMessage.Channel.SMS)]
    assert all(NOTICE.lower().split(" ", 1)[1] in t.lower() for t in texts)


def test_the_persons_reply_notifies_nobody_by_the_notice(alice, space, doctor):
    authorise(space, doctor)
    conversation = start(doctor, space)
    count = outbox().count()
    services.person_reply(user=alice, conversation=conversation, body="Merci")
    assert outbox().count() == count


# --- The welcome message ------------------------------------------------------------------


def test_the_welcome_message_comes_once_on_activation(alice, space):
    [welcome] = Conversation.objects.filter(space=space)
    assert welcome.professional is None
    assert welcome.subject == services.WELCOME_SUBJECT
    [message] = messages_of(welcome)
    assert message.author_kind == Message.AuthorKind.SERVICE
    assert message.no_reply and message.body_id is None
    text = services.message_text(message)
    assert services.patient_address(space) in text
    assert space.person.nir in text
    assert services.welcome_send([space.pk]) == 0  # once
    assert Conversation.objects.filter(space=space).count() == 1


def test_the_welcome_message_comes_once_per_space_on_automatic_creation(issue_code):
    issued = [issue_code() for _ in range(3)]
    spaces = [Space.objects.get(person=i.person) for i in issued]
    assert not Conversation.objects.filter(space__in=spaces).exists()
    with clock.travel(timedelta(weeks=6, minutes=1)):
        assert enrollment.spaces_auto_create() == 3
        assert enrollment.spaces_auto_create() == 0
    for space in spaces:
        [welcome] = Conversation.objects.filter(space=space)
        assert welcome.subject == services.WELCOME_SUBJECT
        assert Message.objects.filter(conversation=welcome).count() == 1


def test_activating_after_a_welcome_adds_none(issue_code):
    issued = issue_code(first_name="Chloé", email="chloe@exemple.fr")
    space = Space.objects.get(person=issued.person)
    services.welcome_send([space.pk])
    activate(issued, identifier="chloe.dupont")
    assert Conversation.objects.filter(space=space).count() == 1


# --- Attachment limits --------------------------------------------------------------------


def test_eleven_attachments_are_refused(space, doctor):
    authorise(space, doctor)
    before = written()
    with pytest.raises(services.MessagingError, match="10 pièces jointes"):
        start(doctor, space, files=[pdf(f"f{i}.pdf") for i in range(11)])
    assert written() == before
    start(doctor, space, files=[pdf(f"f{i}.pdf") for i in range(10)])
    assert Attachment.objects.count() == 10


def test_more_than_20_mb_in_all_is_refused(space, doctor):
    authorise(space, doctor)
    limit = settings.CARNET["MESSAGE_MAX_BYTES"]
    before = written()
    with pytest.raises(services.MessagingError, match="20 Mo"):
        start(doctor, space, files=[pdf("a.pdf", limit // 2), pdf("b.pdf", limit // 2)])
    assert written() == before


def test_a_refused_file_is_listed_with_its_reason_and_not_stored(space, doctor):
    authorise(space, doctor)
    conversation = start(
        doctor, space, refused=[services.RefusedFile("virus.exe", "Ce format n'est pas accepté.")]
    )
    [attachment] = Attachment.objects.filter(message__conversation=conversation)
    assert attachment.blob is None
    assert attachment.refused_reason == "Ce format n'est pas accepté."


# --- Purge --------------------------------------------------------------------------------


def test_the_purge_erases_the_messages_and_their_files(alice, space, doctor):
    authorise(space, doctor)
    conversation = start(doctor, space, files=[pdf()])
    services.person_reply(user=alice, conversation=conversation, body="Merci")
    keys = list(
        Message.objects.filter(conversation__space=space, body__isnull=False).values_list(
            "body_id", flat=True
        )
    )
    assert keys

    space = enrollment.space_close(space=space, actor=alice.actor, confirmed=True)
    enrollment.space_purge(space=space)

    assert not Conversation.objects.filter(space=space).exists()
    assert not Message.objects.filter(conversation__space=space).exists()
    assert not Attachment.objects.exists()
    assert not Blob.objects.filter(key__in=keys).exists()
