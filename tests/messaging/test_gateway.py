"""The SMTP gateway (`carnet smtpd`), driven by smtplib over a real socket: STARTTLS, AUTH,
the envelope's checks, a MIME mail becoming an encrypted message, and the refusals.

The gateway runs in its own thread (aiosmtpd Controller) with its own database connections:
the tests use the live database (transactional)."""

import base64
import datetime
import email
import ipaddress
import shutil
import smtplib
import ssl
import subprocess
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from carnet.consent.models import Block
from carnet.core import clock
from carnet.enrollment import services as enrollment
from carnet.messaging import gateway_services as gs
from carnet.messaging.gateway import gateway_controller
from carnet.messaging.models import Attachment, Conversation, Message, MessagingCredential
from carnet.messaging.services import message_text, patient_address
from carnet.notifications.models import OutboxMessage
from tests.consent.conftest import authorise, make_professional
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import space_of
from tests.ports import free_port

pytestmark = pytest.mark.django_db(transaction=True)

PRO_ADDRESS = "claire.fictif@medecin.mssante.exemple.fr"
SECRET_TEXT = "Votre glycémie à jeun est de 1,32 g/l : contrôle dans trois mois."


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory):
    """A self-signed certificate and its key for 127.0.0.1 / localhost (cryptography)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@pytest.fixture
def start_gateway(tls_pair):
    started = []

    def start(**kwargs):
        cert_file, key_file = tls_pair
        controller = gateway_controller(
            host="127.0.0.1", port=free_port(), cert_file=cert_file, key_file=key_file, **kwargs
        )
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()
        controller.handler.executor.shutdown(wait=True)


@pytest.fixture
def gateway(start_gateway):
    return start_gateway()


@pytest.fixture
def space(alice):
    return space_of(alice.person)


@pytest.fixture
def pro(space):
    professional = make_professional(messaging_address=PRO_ADDRESS)
    authorise(space, professional)
    return professional


@pytest.fixture
def secret(pro):
    return gs.credential_create(pro)


def _client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's self-signed certificate
    return context


def connect(controller, *, tls=True) -> smtplib.SMTP:
    client = smtplib.SMTP(controller.hostname, controller.port, timeout=10)
    client.ehlo("cabinet.exemple.fr")
    if tls:
        client.starttls(context=_client_context())
        client.ehlo("cabinet.exemple.fr")
    return client


def logged_in(controller, pro, secret) -> smtplib.SMTP:
    client = connect(controller)
    client.login(pro.rpps, secret)
    return client


def mail(space, *, subject="Résultats", text=SECRET_TEXT, html=None, files=(), **headers):
    message = EmailMessage()
    message["From"] = f"Dr Claire Fictif <{PRO_ADDRESS}>"
    message["To"] = patient_address(space)
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    for filename, data, maintype, subtype in files:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def _blob_files() -> list[Path]:
    return [p for p in Path(settings.BLOB_DIR).rglob("*") if p.is_file()]


# --- Delivered ------------------------------------------------------------------------------


def test_pdf_over_starttls_with_auth_becomes_an_encrypted_message(gateway, space, pro, secret):
    pdf = pdf_bytes("Bilan sanguin de Alice")
    message = mail(space, files=[("bilan.pdf", pdf, "application", "pdf")])
    with logged_in(gateway, pro, secret) as client:
        refused = client.send_message(message)
    assert refused == {}

    [conversation] = Conversation.objects.filter(space=space, professional=pro)
    assert conversation.subject == "Résultats"
    [received] = Message.objects.filter(conversation=conversation)
    assert received.channel == Message.Channel.SMTP
    assert received.author_kind == Message.AuthorKind.PROFESSIONAL
    assert received.author_id == pro.user_id
    assert received.message_id.startswith("<") and received.message_id.endswith(">")
    assert message_text(received) == SECRET_TEXT
    [attachment] = Attachment.objects.filter(message=received)
    assert (attachment.filename, attachment.media_type, attachment.size) == (
        "bilan.pdf",
        "application/pdf",
        len(pdf),
    )
    from carnet.core.blobs import blob_read

    assert blob_read(attachment.blob) == pdf
    # Encrypted at rest: neither the text nor the PDF is in any stored file.
    stored = [p.read_bytes() for p in _blob_files()]
    assert stored
    assert not any(SECRET_TEXT.encode() in data for data in stored)
    assert not any(b"Bilan sanguin" in data or b"%PDF-" in data for data in stored)
    # The person is told, without the content.
    notice = OutboxMessage.objects.get(kind="nouveau_message")
    assert notice.to == "alice.martin@exemple.fr"
    assert "glycémie" not in notice.body and "Résultats" not in notice.body
    assert MessagingCredential.objects.get(professional=pro).last_used_at is not None


def test_auth_login_mechanism_and_a_reply_threaded_by_in_reply_to(gateway, space, pro, secret):
    with logged_in(gateway, pro, secret) as client:
        client.send_message(mail(space, subject="Suivi", Message_ID="<m1@cabinet.exemple.fr>"))
    with connect(gateway) as client:
        client.user, client.password = pro.rpps, secret
        code, _ = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
        assert code == 235
        client.send_message(
            mail(
                space,
                subject="Re: Suivi",
                text="Complément",
                Message_ID="<m2@cabinet.exemple.fr>",
                In_Reply_To="<m1@cabinet.exemple.fr>",
                References="<m1@cabinet.exemple.fr>",
            )
        )
    [conversation] = Conversation.objects.filter(space=space, professional=pro)
    first, second = Message.objects.filter(conversation=conversation)
    assert (first.message_id, second.message_id) == (
        "<m1@cabinet.exemple.fr>",
        "<m2@cabinet.exemple.fr>",
    )
    assert second.in_reply_to == "<m1@cabinet.exemple.fr>"
    assert message_text(second) == "Complément"
    # A reference unknown in this space starts a new conversation.
    with logged_in(gateway, pro, secret) as client:
        client.send_message(mail(space, subject="Autre", In_Reply_To="<ailleurs@x.fr>"))
    assert Conversation.objects.filter(space=space, professional=pro).count() == 2


def test_invalid_attachment_is_dropped_and_listed(gateway, space, pro, secret):
    fake = b"MZ\x90\x00" + b"\x00" * 200
    message = mail(
        space,
        files=[
            ("ordonnance.pdf", fake, "application", "pdf"),
            ("bilan.pdf", pdf_bytes(), "application", "pdf"),
        ],
    )
    with logged_in(gateway, pro, secret) as client:
        client.send_message(message)
    received = Message.objects.get(conversation__space=space, author_kind="professionnel")
    refused = Attachment.objects.get(message=received, blob__isnull=True)
    kept = Attachment.objects.get(message=received, blob__isnull=False)
    assert refused.blob is None and refused.filename == "ordonnance.pdf"
    assert refused.refused_reason.startswith("Ce fichier n'est pas un PDF valide")
    assert kept.blob is not None and kept.refused_reason == ""


def test_html_is_reduced_to_text_without_scripts_or_remote_images(gateway, space, pro, secret):
    markup = (
        "<html><head><style>p{color:red}</style><script>alert('vol')</script></head><body>"
        "<p>Bonjour,</p><p>Voir <a href='https://exemple.fr/resultats' onclick='x()'>vos "
        "résultats</a>&nbsp;&amp; la notice.</p>"
        "<img src='https://pisteur.exemple.com/p.gif?id=42' alt='pixel'>"
        "<iframe src='https://exemple.com/'></iframe><script>document.cookie</script>"
        "</body></html>"
    )
    with logged_in(gateway, pro, secret) as client:
        client.send_message(mail(space, text=None, html=markup))
    text = message_text(Message.objects.get(conversation__space=space, author_kind="professionnel"))
    assert text == "Bonjour,\n\nVoir vos résultats <https://exemple.fr/resultats> & la notice."
    for absent in ("<", "script", "alert", "cookie", "pisteur", "img", "color", "onclick"):
        assert absent not in text.replace("<https://exemple.fr/resultats>", "")


# --- Refused --------------------------------------------------------------------------------


def test_without_tls_auth_and_mail_are_refused(gateway, space, pro, secret):
    with connect(gateway, tls=False) as client:
        assert "starttls" in client.esmtp_features
        assert "auth" not in client.esmtp_features
        code, _ = client.docmd("AUTH", "PLAIN AGZvbwBiYXI=")
        assert code == 530
        code, _ = client.docmd("MAIL", f"FROM:<{PRO_ADDRESS}>")
        assert code == 530
    assert not Conversation.objects.filter(professional__isnull=False).exists()


def test_bad_password_and_unknown_login_are_refused(gateway, pro, secret):
    for login, password in ((pro.rpps, secret[:-1] + "!"), ("10000000000", secret)):
        with connect(gateway) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.login(login, password)
            assert refused.value.smtp_code == 535


def test_unauthenticated_relay_is_refused(gateway, space):
    with connect(gateway) as client:
        assert "auth" in client.esmtp_features
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail(PRO_ADDRESS, [patient_address(space)], b"Subject: x\r\n\r\nx")
        assert refused.value.smtp_code == 530
    assert not Conversation.objects.filter(professional__isnull=False).exists()


def test_forged_mail_from_is_refused(gateway, space, pro, secret):
    with logged_in(gateway, pro, secret) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("autre@mssante.exemple.fr", [patient_address(space)], b"\r\nx")
    assert refused.value.smtp_code == 550
    assert not Conversation.objects.filter(professional__isnull=False).exists()


def _rcpt(controller, pro, secret, address) -> tuple[int, bytes]:
    with logged_in(controller, pro, secret) as client:
        client.mail(PRO_ADDRESS)
        return client.rcpt(address)


def test_unknown_recipients_are_refused_550(gateway, space, pro, secret):
    nir = space.person.nir
    unknown = "1" + nir[1:] if nir[0] == "2" else "2" + nir[1:]
    for address in (
        f"{unknown}@{settings.CARNET_PATIENT_MAIL_DOMAIN}",
        f"{nir}@autre.exemple.fr",
        f"alice@{settings.CARNET_PATIENT_MAIL_DOMAIN}",
    ):
        code, text = _rcpt(gateway, pro, secret, address)
        assert (code, text) == (550, b"5.1.1 Destinataire inconnu.")


def test_closed_space_receives_nothing(gateway, alice, space, pro, secret):
    enrollment.space_close(space=space, actor=alice.actor, confirmed=True)
    code, text = _rcpt(gateway, pro, secret, patient_address(space))
    assert code == 550
    assert text == b"5.7.1 Cet espace sante est ferme : il ne recoit plus de messages."


def test_a_space_closed_or_a_block_between_rcpt_and_data_refuses_the_mail(
    gateway, alice, space, pro, secret
):
    """RCPT accepted; then, before DATA, the professional is blocked (or the space closed):
    DATA refuses, nothing is written."""
    with logged_in(gateway, pro, secret) as client:
        assert client.mail(PRO_ADDRESS)[0] == 250
        assert client.rcpt(patient_address(space))[0] == 250
        block = Block.objects.create(space=space, professional=pro, blocked_at=clock.now())
        code, text = client.data(mail(space).as_bytes())
        assert code == 550 and b"Vous ne pouvez pas ecrire a ce patient" in text
        block.delete()
        client.rset()
        assert client.mail(PRO_ADDRESS)[0] == 250
        assert client.rcpt(patient_address(space))[0] == 250
        enrollment.space_close(space=space, actor=alice.actor, confirmed=True)
        code, text = client.data(mail(space).as_bytes())
        assert code == 550 and b"Cet espace sante est ferme" in text
    assert not Conversation.objects.filter(professional__isnull=False).exists()


def test_blocked_professional_cannot_write(gateway, space, pro, secret):
    Block.objects.create(space=space, professional=pro, blocked_at=clock.now())
    code, text = _rcpt(gateway, pro, secret, patient_address(space))
    assert code == 550 and b"Vous ne pouvez pas ecrire a ce patient" in text
    assert not Conversation.objects.filter(professional__isnull=False).exists()


def test_professional_without_consent_basis_cannot_write(gateway, space):
    stranger = make_professional(messaging_address="inconnu@mssante.exemple.fr")
    secret = gs.credential_create(stranger)
    with logged_in(gateway, stranger, secret) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail(stranger.messaging_address, [patient_address(space)], b"\r\nx")
    [(code, _)] = refused.value.recipients.values()
    assert code == 550


def test_size_is_announced_and_enforced_552(start_gateway, space, pro, secret):
    controller = start_gateway(max_bytes=20_000)
    big = mail(space, files=[("bilan.pdf", pdf_bytes(pages=40), "application", "pdf")])
    assert len(big.as_bytes()) > 20_000
    with logged_in(controller, pro, secret) as client:
        assert client.esmtp_features["size"] == "20000"
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # SIZE= in MAIL FROM
            client.send_message(big)
        assert refused.value.smtp_code == 552
    with logged_in(controller, pro, secret) as client:  # no SIZE given: counted in DATA
        del client.esmtp_features["size"]
        client.mail(PRO_ADDRESS)
        client.rcpt(patient_address(space))
        code, text = client.data(big.as_bytes(policy=policy.SMTP))
        assert code == 552, text
    assert not Conversation.objects.filter(professional__isnull=False).exists()


def test_lines_of_dots_arrive_intact_and_a_too_long_line_is_refused_500(
    gateway, space, pro, secret
):
    text = "Bonjour,\n.\n..\n.signature\nFin de la lettre.\n"
    with logged_in(gateway, pro, secret) as client:
        client.mail(PRO_ADDRESS)
        client.rcpt(patient_address(space))
        code, _ = client.data(b"Subject: Compte rendu\r\n\r\n" + b"x" * 1200 + b"\r\n")
        assert code == 500
        assert client.send_message(mail(space, text=text)) == {}  # the session goes on
    [received] = Message.objects.filter(conversation__professional=pro)
    assert message_text(received) == text.strip()


def test_the_mails_of_a_connection_are_read_in_one_child_which_ends_with_it(
    gateway, space, pro, secret
):
    from carnet.documents import checker

    pdf = pdf_bytes("Bilan")
    with logged_in(gateway, pro, secret) as client:
        client.send_message(mail(space, files=[("bilan.pdf", pdf, "application", "pdf")]))
        [child] = checker.checker_children()
        client.send_message(
            mail(space, subject="Suite", files=[("b.pdf", pdf, "application", "pdf")])
        )
        assert checker.checker_children() == [child]
    deadline = time.monotonic() + 10
    while checker.checker_children() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert checker.checker_children() == []
    assert Attachment.objects.filter(message__conversation__professional=pro).count() == 2


# --- Credentials and the command ------------------------------------------------------------


def test_credential_is_stored_as_a_keyed_hash_and_replaced(pro):
    first = gs.credential_create(pro)
    stored = MessagingCredential.objects.get(professional=pro)
    assert first not in stored.secret_hash and len(first) == gs.CREDENTIAL_LENGTH
    assert gs.credential_check(pro.rpps, first) == pro
    second = gs.credential_create(pro)
    assert gs.credential_check(pro.rpps, first) is None
    assert gs.credential_check(pro.rpps, second) == pro
    assert MessagingCredential.objects.count() == 1


def test_command_refuses_to_start_without_a_certificate(settings):
    settings.SMTPD_TLS_CERT = settings.SMTPD_TLS_KEY = ""
    with pytest.raises(CommandError, match="CARNET_SMTPD_TLS_CERT"):
        call_command("smtpd", port=free_port())


def test_command_refuses_a_process_count_out_of_bounds(tls_pair, settings):
    settings.SMTPD_TLS_CERT, settings.SMTPD_TLS_KEY = tls_pair
    for processes in (0, 65):
        with pytest.raises(CommandError, match="--processes"):
            call_command("smtpd", port=free_port(), processes=processes)


def test_gateways_sharing_a_port_all_start_and_deliver(tls_pair, space, pro, secret):
    """`carnet smtpd --processes N`: N gateways on one port (SO_REUSEPORT). Each one starts
    (aiosmtpd's start-up check connects to its own port, which the kernel may hand to a
    sibling: it is replaced), and mail through any of them is delivered."""
    cert_file, key_file = tls_pair
    port = free_port()
    controllers = [
        gateway_controller(
            host="127.0.0.1", port=port, cert_file=cert_file, key_file=key_file, reuse_port=True
        )
        for _ in range(3)
    ]
    try:
        for controller in controllers:
            controller.start()
        for n in range(6):  # new connections: spread over the three by the kernel
            with logged_in(controllers[0], pro, secret) as client:
                assert client.send_message(mail(space, subject=f"Compte rendu {n}")) == {}
    finally:
        for controller in controllers:
            controller.stop()
    assert Conversation.objects.filter(space=space, professional=pro).count() == 6


@pytest.mark.skipif(
    shutil.which("swaks") is None,
    reason="swaks n'est pas installé (Debian : apt-get install swaks) : le test de la "
    "passerelle par un client SMTP externe est sauté",
)
def test_swaks_sends_through_the_gateway(gateway, space, pro, secret):
    done = subprocess.run(  # noqa: S603 (fixed arguments)
        [
            "swaks",
            "--server",
            f"{gateway.hostname}:{gateway.port}",
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            pro.rpps,
            "--auth-password",
            secret,
            "--from",
            PRO_ADDRESS,
            "--to",
            patient_address(space),
            "--header",
            "Subject: Par swaks",
            "--body",
            SECRET_TEXT,
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stdout.decode(errors="replace")
    assert (
        message_text(Message.objects.get(conversation__space=space, author_kind="professionnel"))
        == SECRET_TEXT
    )


def test_mail_parse_keeps_plain_text_over_html():
    message = email.message_from_string(
        "Subject: x\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nTexte\r\n"
        "--b\r\nContent-Type: text/html\r\n\r\n<p>HTML</p>\r\n--b--\r\n",
        policy=policy.default,
    )
    assert gs.mail_parse(message.as_bytes()).body == "Texte"


# --- Parsing: headers kept raw, decoded where shown --------------------------------------------


def test_mail_parse_decodes_encoded_subjects_and_file_names():
    pdf = pdf_bytes()
    raw = (
        "Subject: =?utf-8?q?R=C3=A9sultats_de_l=27examen?=\r\n =?iso-8859-1?q?_=E9t=E9?=\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nCompte rendu =E0 lire.\r\n"
        "--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename*=utf-8''compte%20rendu%20%C3%A9t%C3%A9.pdf\r\n"
        "\r\n" + base64.encodebytes(pdf).decode().replace("\n", "\r\n") + "\r\n"
        "--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="=?utf-8?q?ordonnance_=C3=A9t=C3=A9.pdf?="\r\n'
        "\r\n" + base64.encodebytes(pdf).decode().replace("\n", "\r\n") + "\r\n--b--\r\n"
    )
    parsed = gs.mail_parse(raw.encode())
    assert parsed.subject == "Résultats de l'examen été"
    assert parsed.body == "Compte rendu à lire."
    assert [f.filename for f in parsed.files] == ["compte rendu été.pdf", "ordonnance été.pdf"]
    assert all(f.data == pdf for f in parsed.files)


def test_mail_parse_takes_text_attachments_beside_a_text_body():
    message = EmailMessage()
    message["Subject"] = "Compte rendu"
    message.set_content("Voir la note jointe.")
    message.add_alternative("<p>Voir la note jointe.</p>", subtype="html")
    note = "Glycémie : 1,02 g/l\n".encode()
    message.add_attachment(note, maintype="text", subtype="plain", filename="note.txt")
    message.add_attachment(pdf_bytes(), maintype="application", subtype="pdf", filename="cr.pdf")
    parsed = gs.mail_parse(message.as_bytes())
    assert parsed.body == "Voir la note jointe."
    assert [(f.filename, f.media_type) for f in parsed.files] == [
        ("note.txt", "text/plain; charset=utf-8"),
        ("cr.pdf", "application/pdf"),
    ]
    assert parsed.files[0].data == note


@pytest.mark.parametrize(
    ("cpu", "timeout"),
    [(1, 10), (60, 0.5)],  # stopped by its CPU bound; by its wall-time bound (no report at all)
)
def test_a_hostile_attachment_is_refused_alone_and_the_rest_delivered(settings, cpu, timeout):
    """The mail's child is stopped by its bounds: the mail is read again in a child without the
    checks and each attachment checked in a child of its own; only the bomb is refused."""
    from tests.documents.test_hostile_files import object_stream_bomb

    settings.CARNET = {
        **settings.CARNET,
        "FILE_CHECK_CPU_SECONDS": cpu,
        "FILE_CHECK_MEMORY_BYTES": 256 * 1024 * 1024,
        "FILE_CHECK_TIMEOUT_SECONDS": timeout,
    }
    message = EmailMessage()
    message["Subject"] = "Deux pièces"
    message.set_content("Ci-joint.")
    message.add_attachment(pdf_bytes(), maintype="application", subtype="pdf", filename="cr.pdf")
    bomb = object_stream_bomb(pages=4, megabytes=15)
    message.add_attachment(bomb, maintype="application", subtype="pdf", filename="bombe.pdf")
    parsed = gs.mail_parse(message.as_bytes())
    assert [f.filename for f in parsed.files] == ["cr.pdf"]
    assert [(r.filename, r.reason) for r in parsed.refused] == [
        ("bombe.pdf", "Ce fichier est trop complexe pour être vérifié : il n'a pas été ajouté.")
    ]


def test_after_a_hostile_mail_the_next_of_the_session_is_read_by_a_new_child(settings):
    from carnet.documents import checker
    from tests.documents.test_hostile_files import object_stream_bomb

    settings.CARNET = {
        **settings.CARNET,
        "FILE_CHECK_CPU_SECONDS": 1,
        "FILE_CHECK_MEMORY_BYTES": 256 * 1024 * 1024,
    }
    session = checker.CheckerSession()
    try:
        hostile = EmailMessage()
        hostile["Subject"] = "Pièce"
        hostile.set_content("Ci-joint.")
        bomb = object_stream_bomb(pages=4, megabytes=15)
        hostile.add_attachment(bomb, maintype="application", subtype="pdf", filename="bombe.pdf")
        assert [r.filename for r in gs.mail_parse(hostile.as_bytes(), session).refused] == [
            "bombe.pdf"
        ]
        good = EmailMessage()
        good["Subject"] = "Compte rendu"
        good.set_content("Ci-joint.")
        good.add_attachment(pdf_bytes(), maintype="application", subtype="pdf", filename="cr.pdf")
        parsed = gs.mail_parse(good.as_bytes(), session)
        assert [(f.filename, f.media_type) for f in parsed.files] == [("cr.pdf", "application/pdf")]
    finally:
        session.close()


def test_a_sessions_child_leaves_images_to_a_child_of_their_own(settings):
    """Pillow's native decoders never run in a child that reads several mails in turn."""
    import json

    from carnet.documents.checker import CHECK_SETTINGS, CheckerSession
    from carnet.messaging import mime
    from tests.documents.conftest import image_bytes

    message = EmailMessage()
    message["Subject"] = "Radio et compte rendu"
    message.set_content("Ci-joint.")
    message.add_attachment(image_bytes(), maintype="image", subtype="png", filename="radio.png")
    message.add_attachment(pdf_bytes(), maintype="application", subtype="pdf", filename="cr.pdf")
    header = {
        "subject_max": 200,
        "body_max": 20_000,
        "settings": {key: settings.CARNET[key] for key in (*CHECK_SETTINGS, *mime.CHECK_SETTINGS)},
    }
    for apart, png_kind in ((True, ""), (False, "image/png")):
        report = mime.mail_check_job({**header, "images_apart": apart}, message.as_bytes())
        described = json.loads(report.partition(b"\n")[0])
        kinds = {name: kind for name, _, kind, _ in described["files"]}
        assert kinds == {"radio.png": png_kind, "cr.pdf": "application/pdf"}
    session = CheckerSession()
    try:
        parsed = gs.mail_parse(message.as_bytes(), session)  # the image checked apart
    finally:
        session.close()
    assert [(f.filename, f.media_type) for f in parsed.files] == [
        ("radio.png", "image/png"),
        ("cr.pdf", "application/pdf"),
    ]


def test_attachments_past_the_count_are_refused_unchecked_and_past_twice_only_counted():
    message = EmailMessage()
    message["Subject"] = "Trop de pièces"
    message.set_content("Voir les pièces.")
    for n in range(30):
        message.add_attachment(b"x\n", maintype="text", subtype="plain", filename=f"n{n}.txt")
    parsed = gs.mail_parse(message.as_bytes())
    assert [f.filename for f in parsed.files] == [f"n{n}.txt" for n in range(10)]
    reasons = [(r.filename, r.reason) for r in parsed.refused]
    assert reasons[:10] == [
        (f"n{n}.txt", "un message compte au plus 10 pièces jointes.") for n in range(10, 20)
    ]
    assert reasons[10:] == [("10 autres pièces jointes", "ignorées : le message en compte trop.")]


def test_a_mail_the_reader_fails_on_is_refused_not_deferred():
    """Nested a thousand times: the parser's recursion fails; the sender gets a refusal (5xx),
    never a temporary error it would retry for days."""
    depth = 1000
    raw = "Subject: profond\r\n"
    for level in range(depth):
        raw += f"Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n"
    raw += "Content-Type: text/plain\r\n\r\nfond\r\n"
    with pytest.raises(gs.DeliveryRefused) as refused:
        gs.mail_parse(raw.encode())
    assert refused.value.status == "5.6.0"


def test_a_body_in_a_charset_that_cannot_replace_is_read():
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=idna\r\n\r\nR\xc3\xa9sultat\r\n"
    assert gs.mail_parse(raw).body == "Résultat"


def test_raw_utf8_subject_and_file_name_are_read_as_utf8():
    raw = (
        "Subject: Résultats d'analyse\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCi-joint.\r\n"
        "--b\r\nContent-Type: text/plain\r\n"
        'Content-Disposition: attachment; filename="résultat.txt"\r\n\r\nnormal\r\n--b--\r\n'
    ).encode()
    parsed = gs.mail_parse(raw)
    assert parsed.subject == "Résultats d'analyse"
    assert [f.filename for f in parsed.files] == ["résultat.txt"]


def test_control_characters_never_reach_the_subject_or_the_ids():
    raw = (
        b"Subject: =?utf-8?q?a=00b?=\r\nMessage-ID: <a\x00b@x>\r\n"
        b"In-Reply-To: <ok@cabinet.exemple.fr>\r\n\r\nTexte\r\n"
    )
    parsed = gs.mail_parse(raw)
    assert "\x00" not in parsed.subject and parsed.subject == "a b"
    assert parsed.message_id == ""
    assert parsed.references == ["<ok@cabinet.exemple.fr>"]


def test_the_same_recipient_twice_gets_one_message(gateway, space, pro, secret):
    with logged_in(gateway, pro, secret) as client:
        assert client.mail(PRO_ADDRESS)[0] == 250
        assert client.rcpt(patient_address(space))[0] == 250
        assert client.rcpt(patient_address(space).lower())[0] == 250
        assert client.data(mail(space).as_bytes())[0] == 250
    assert Conversation.objects.filter(space=space, professional=pro).count() == 1


@pytest.mark.parametrize(
    ("charset", "encoding", "expected"),
    [
        ("x-inconnu", "utf-8", "Résultat"),  # unknown: read as UTF-8
        ("us-ascii", "latin-1", "Résultat"),  # 8-bit under ASCII: UTF-8, else Latin-1
        ("utf-8", "latin-1", "R\ufffdsultat"),  # a wrong byte is replaced, never an error
    ],
)
def test_mail_parse_reads_an_unknown_or_wrong_charset_without_failing(charset, encoding, expected):
    raw = (
        f"Subject: =?x-inconnu?q?R=E9sultat?=\r\nContent-Type: text/plain; charset={charset}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + "Résultat".encode(encoding)
    parsed = gs.mail_parse(raw)
    assert parsed.body == expected
    assert parsed.subject == "=?x-inconnu?q?R=E9sultat?="  # undecodable: shown as sent


@settings_hypothesis(max_examples=200, deadline=None)
@given(
    st.binary(max_size=2000)
    | st.builds(
        lambda subject, body, charset: (
            (f"Subject: {subject}\r\nContent-Type: text/plain; charset={charset}\r\n\r\n").encode(
                "utf-8", "surrogatepass"
            )
            + body
        ),
        st.text(max_size=80).map(lambda t: t.replace("\r", " ").replace("\n", " ")),
        st.binary(max_size=500),
        st.sampled_from(["utf-8", "latin-1", "us-ascii", "x-inconnu", '"', "utf-8'"]),
    )
)
def test_mail_parse_never_fails_on_any_bytes(raw):
    """Whatever the bytes: a message (subject and text within bounds) or a clear refusal."""
    try:
        parsed = gs.mail_parse(raw)
    except gs.DeliveryRefused:
        return
    assert 0 < len(parsed.subject) <= 200
    assert parsed.body
