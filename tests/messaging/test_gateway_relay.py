"""The patients' replies, relayed by SMTP (EMAIL_URL) to the professional's messaging address:
threading headers, the attachment intact, marked relayed once, retried after a failure."""

import socket
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest

from carnet.audit.models import Event
from carnet.core import clock
from carnet.messaging import gateway_services as gs
from carnet.messaging.models import Message
from carnet.messaging.services import (
    OutgoingFile,
    conversation_start,
    patient_address,
    person_reply,
)
from carnet.notifications.models import OutboxMessage
from tests.consent.conftest import authorise, make_professional
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import at, space_of

PRO_ADDRESS = "claire.fictif@medecin.mssante.exemple.fr"


@pytest.fixture
def exchange(alice):
    """A professional's mail received by the gateway, and Alice's reply with a PDF."""
    space = space_of(alice.person)
    pro = make_professional(messaging_address=PRO_ADDRESS)
    authorise(space, pro)
    conversation = conversation_start(
        user=pro.user,
        professional=pro,
        space=space,
        subject="Résultats",
        body="Voici vos résultats.",
        channel=Message.Channel.SMTP,
        message_id="<m1@cabinet.exemple.fr>",
    )
    pdf = pdf_bytes("Mes analyses")
    reply = person_reply(
        user=alice,
        conversation=conversation,
        body="Merci docteur, voici mes analyses.",
        files=[OutgoingFile("analyses.pdf", pdf, "application/pdf", "pdf")],
    )
    return space, reply, pdf


def test_reply_is_relayed_with_threading_headers_and_attachment(smtp_server, exchange):
    space, reply, pdf = exchange
    assert gs.replies_relay() == 1

    [sent] = smtp_server.messages
    assert sent["to"] == [PRO_ADDRESS]
    assert sent["from"] == patient_address(space)
    mail = BytesParser(policy=policy.default).parsebytes(sent["data"].encode())
    assert mail["Message-ID"] == reply.message_id
    assert mail["In-Reply-To"] == "<m1@cabinet.exemple.fr>"
    assert mail["References"] == "<m1@cabinet.exemple.fr>"
    assert mail["Subject"] == "Re: Résultats"
    assert mail.get_body(("plain",)).get_content().strip() == "Merci docteur, voici mes analyses."
    [attachment] = mail.iter_attachments()
    assert attachment.get_filename() == "analyses.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_payload(decode=True) == pdf

    reply.refresh_from_db()
    assert reply.relayed_at is not None
    assert gs.replies_relay() == 0  # once only
    assert len(smtp_server.messages) == 1


def test_the_gateway_threads_the_professionals_answer_to_the_relayed_reply(smtp_server, exchange):
    space, reply, _ = exchange
    gs.replies_relay()
    answer = (
        f"From: {PRO_ADDRESS}\r\nTo: {patient_address(space)}\r\nSubject: Re: Re: Résultats\r\n"
        f"Message-ID: <m3@cabinet.exemple.fr>\r\nIn-Reply-To: {reply.message_id}\r\n"
        f"References: <m1@cabinet.exemple.fr> {reply.message_id}\r\n\r\nBien reçu.\r\n"
    ).encode()
    pro = reply.conversation.professional
    [message] = gs.mail_deliver(
        professional=pro, recipients=[patient_address(space)], content=answer
    )
    assert message.conversation_id == reply.conversation_id
    assert message.in_reply_to == reply.message_id


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failed_send_is_retried_and_no_email_url_relays_nothing(settings, exchange):
    _, reply, _ = exchange
    settings.EMAIL_URL = ""
    assert gs.replies_relay() == 0
    settings.EMAIL_URL = "smtp://127.0.0.1"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = (
        "127.0.0.1",
        _closed_port(),
        2,
    )
    assert gs.replies_relay() == 0
    reply.refresh_from_db()
    assert reply.relayed_at is None  # the claim was rolled back: the next tick tries again
    assert reply.relay_attempts == 1
    assert reply.relay_next_at == pytest.approx(clock.now() + timedelta(minutes=5), abs=SECOND)


SECOND = timedelta(seconds=1)


@pytest.fixture
def unreachable(settings):
    """EMAIL_URL set, pointing at a port where nothing listens."""
    settings.EMAIL_URL = "smtp://127.0.0.1"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = (
        "127.0.0.1",
        _closed_port(),
        2,
    )


def test_retries_wait_longer_each_time_then_give_up_and_tell_the_person(
    alice, client, unreachable, exchange
):
    _, reply, _ = exchange
    waits = []
    for attempt in range(1, 9):
        assert gs.replies_relay() == 0
        reply.refresh_from_db()
        assert reply.relay_attempts == attempt
        if attempt < 8:
            waits.append(reply.relay_next_at - clock.now())
            assert gs.replies_relay() == 0  # not before its time: no attempt
            reply.refresh_from_db()
            assert reply.relay_attempts == attempt
            at(reply.relay_next_at + SECOND)
    assert [round(w / timedelta(minutes=1)) for w in waits] == [5, 10, 20, 40, 80, 160, 320]
    assert reply.relay_failed_at is not None and reply.relayed_at is None
    at(clock.now() + timedelta(days=1))
    assert gs.replies_relay() == 0
    reply.refresh_from_db()
    assert reply.relay_attempts == 8  # given up: no more attempts
    # The person is told that it was not delivered, never what nor to whom.
    notice = OutboxMessage.objects.get(kind="message_non_remis")
    assert notice.to == "alice.martin@exemple.fr"
    assert "Merci docteur" not in notice.body and "Résultats" not in notice.body
    assert "FICTIF" not in notice.body.upper()
    assert Event.objects.filter(action="message_non_remis").count() == 1
    client.force_login(alice)
    page = client.get(f"/messagerie/{reply.conversation.public_id}/").content.decode()
    assert "Ce message n'a pas pu être remis au professionnel de santé" in page


def test_a_refusal_by_the_server_ends_the_tries_at_once(smtp_server, exchange):
    _, reply, _ = exchange
    smtp_server.refuse_with = "550 5.1.1 Adresse inconnue"
    assert gs.replies_relay() == 0
    reply.refresh_from_db()
    assert (reply.relay_attempts, reply.relayed_at) == (1, None)
    assert reply.relay_failed_at is not None
    assert OutboxMessage.objects.filter(kind="message_non_remis").count() == 1


def test_a_temporary_refusal_is_tried_again(smtp_server, exchange):
    _, reply, _ = exchange
    smtp_server.refuse_with = "451 4.3.0 Essayez plus tard"
    assert gs.replies_relay() == 0
    reply.refresh_from_db()
    assert (reply.relay_attempts, reply.relay_failed_at) == (1, None)
    smtp_server.refuse_with = None
    at(reply.relay_next_at + SECOND)
    assert gs.replies_relay() == 1
    reply.refresh_from_db()
    assert reply.relayed_at is not None
    assert not OutboxMessage.objects.filter(kind="message_non_remis").exists()


def test_our_own_relay_refusing_the_sender_is_tried_again(smtp_server, exchange):
    """A 5xx from our relay about us (a sender refused, a login expired) is not the
    professional's refusal: the reply waits and is tried again, nobody is told."""
    _, reply, _ = exchange
    smtp_server.refuse_sender_with = "553 5.7.1 Expediteur refuse"
    assert gs.replies_relay() == 0
    reply.refresh_from_db()
    assert (reply.relay_attempts, reply.relay_failed_at) == (1, None)
    assert not OutboxMessage.objects.filter(kind="message_non_remis").exists()
