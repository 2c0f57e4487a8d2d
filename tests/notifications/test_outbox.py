"""The outbox: held without a channel, delivered by SMTP and by an HTTP SMS gateway, retried
with a bound, and never carrying health content."""

import json
import logging
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from carnet.core import clock
from carnet.enrollment import services
from carnet.notifications.models import OutboxMessage
from carnet.notifications.services import message_queue, outbox_deliver, sms
from tests.enrollment.helpers import activate, code_in, identify, reissue
from tests.factories import InsuredPersonFactory
from tests.ports import free_port

Status = OutboxMessage.Status
HEALTH_WORDS = re.compile(
    r"maladie|diagnostic|traitement|ordonnance|pathologie|allergi|vaccin|analyse|"
    r"compte rendu|hospitali|cancer|grossesse|médicament",
    re.I,
)


class _Gateway(BaseHTTPRequestHandler):
    received: list
    status = 200

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(
            {"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)}
        )
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def sms_gateway(settings):
    """A small SMS gateway on loopback: JSON in, 200 out; SMS_URL points at it."""
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    server.received, server.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_URL = f"http://127.0.0.1:{server.server_address[1]}/sms"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _queue_sms(text="Carnet : vous avez reçu un nouveau message.", to="+33611223344"):
    with transaction.atomic():
        return message_queue(sms(text, to=to, kind="test"))


# --- Held in the outbox ---------------------------------------------------------------------


@pytest.mark.django_db
def test_without_channel_messages_are_held_and_readable_in_demo(issue_code, settings):
    assert settings.EMAIL_URL == "" and settings.SMS_URL == ""
    issued = issue_code(email="camille@exemple.fr")
    message = OutboxMessage.objects.get(to="camille@exemple.fr")
    assert message.status == Status.HELD and message.attempts == 0
    assert code_in(message) == issued.code

    page = Client().get("/outbox/")
    assert page.status_code == 200
    assert issued.code in page.content.decode()

    out = StringIO()
    call_command("outbox", "--to", "camille@exemple.fr", stdout=out)
    assert issued.code in out.getvalue()
    assert "Conservé" in out.getvalue()
    assert outbox_deliver() == 0  # held messages are not sent
    assert OutboxMessage.objects.get(pk=message.pk).status == Status.HELD


@pytest.mark.django_db
def test_outbox_page_does_not_exist_outside_demo(settings, issue_code):
    issue_code()
    settings.DEMO_MODE = False
    assert Client().get("/outbox/").status_code == 404


# --- Delivered ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_email_delivered_by_smtp_and_body_erased(smtp_server):
    person = InsuredPersonFactory(email="alice@exemple.fr")
    [(_, code, _)] = services.codes_issue([person])
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["to"] == ["alice@exemple.fr"]
    assert code in smtp_server.messages[0]["data"]
    message = OutboxMessage.objects.get(to="alice@exemple.fr")
    assert message.status == Status.SENT and message.sent_at is not None
    assert message.body == "" and message.attempts == 1
    assert outbox_deliver() == 0  # nothing is sent twice
    assert len(smtp_server.messages) == 1
    page = Client().get("/outbox/").content.decode()
    assert code not in page and "contenu effacé après envoi" in page


@pytest.mark.django_db(transaction=True)
def test_sms_delivered_to_the_http_gateway(sms_gateway):
    message = _queue_sms()
    [received] = sms_gateway.received
    assert received["path"] == "/sms"
    assert received["type"] == "application/json"
    assert received["json"] == {
        "to": "+33611223344",
        "text": "Carnet : vous avez reçu un nouveau message.",
    }
    message.refresh_from_db()
    assert message.status == Status.SENT and message.body == ""


@pytest.mark.django_db(transaction=True)
def test_new_code_by_sms_reaches_the_gateway(sms_gateway):
    person = InsuredPersonFactory(email="", mobile="+33655443322")
    services.codes_issue([person])  # no email: a letter; then the person asks for a code
    reissue(person)
    [received] = sms_gateway.received
    assert received["json"]["to"] == "+33655443322"
    code = re.search(r"code provisoire est (\w{12})", received["json"]["text"]).group(1)
    assert identify(person, code).person == person


# --- Failures and retries -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_unreachable_gateway_retries_a_bounded_number_of_times(settings, caplog):
    settings.SMS_URL = f"http://127.0.0.1:{free_port()}/sms"
    caplog.set_level(logging.DEBUG)
    secret = "Carnet : votre code de vérification est 482913."
    message = _queue_sms(secret)  # the first attempt runs on commit
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.PENDING, 1)
    assert outbox_deliver() == 0  # not due before the retry delay
    assert OutboxMessage.objects.get(pk=message.pk).attempts == 1

    maximum = settings.CARNET["OUTBOX_MAX_ATTEMPTS"]
    for step in range(1, maximum + 2):
        clock.set_offset(timedelta(minutes=6 * step))
        outbox_deliver()
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.attempts == maximum
    assert message.last_error  # the exception's class, for operators
    assert "482913" not in caplog.text  # logs carry ids, never bodies
    assert str(message.public_id) in caplog.text


@pytest.mark.django_db(transaction=True)
def test_gateway_error_then_success(sms_gateway):
    sms_gateway.status = 500
    message = _queue_sms()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.PENDING, 1)
    assert message.body  # kept for the next attempt
    sms_gateway.status = 200
    with clock.travel(timedelta(minutes=6)):
        assert outbox_deliver() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.body) == (Status.SENT, 2, "")
    assert len(sms_gateway.received) == 2


@pytest.mark.django_db(transaction=True)
def test_unreachable_smtp_server_fails_after_bounded_attempts(settings):
    settings.EMAIL_URL = f"smtp://127.0.0.1:{free_port()}"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", int(settings.EMAIL_URL.rsplit(":")[-1])
    settings.EMAIL_USE_TLS = False
    person = InsuredPersonFactory(email="bob@exemple.fr")
    services.codes_issue([person])
    for step in range(1, 10):
        with clock.travel(timedelta(minutes=6 * step)):
            call_command("outbox", "--deliver", stdout=StringIO())
    message = OutboxMessage.objects.get(to="bob@exemple.fr")
    assert message.status == Status.FAILED
    assert message.attempts == settings.CARNET["OUTBOX_MAX_ATTEMPTS"]


# --- No health content -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_emails_say_that_something_happened_never_what(smtp_server, client):
    person = InsuredPersonFactory(email="eve@exemple.fr")
    [(_, code, _)] = services.codes_issue([person])
    from tests.enrollment.helpers import credentials

    services.space_activate(
        identified=identify(person, code),
        credentials=credentials(person, email="eve@exemple.fr"),
    )
    services.contact_check_start(person=person, channel="email", value="eve2@exemple.fr")
    other = InsuredPersonFactory(email="oscar@exemple.fr")
    [(_, other_code, _)] = services.codes_issue([other])
    services.space_oppose(identified=identify(other, other_code))
    kinds = set(OutboxMessage.objects.values_list("kind", flat=True))
    assert kinds == {"code_provisoire", "activation", "verification", "opposition"}
    assert len(smtp_server.messages) == 5
    for delivered in smtp_server.messages:
        text = delivered["data"]
        assert not HEALTH_WORDS.search(text), text
        assert person.nir not in text and other.nir not in text
        assert person.vitale_serial not in text
    assert OutboxMessage.objects.exclude(body="").count() == 0


@pytest.mark.django_db
def test_activation_email_has_no_code_and_no_password(issue_code):
    issued = issue_code(email="lou@exemple.fr")
    activate(issued)
    message = OutboxMessage.objects.get(to="lou@exemple.fr", kind="activation")
    assert issued.code not in message.body
    assert "jardin-lune-orage-42" not in message.body
    assert "alice.martin" in message.body
