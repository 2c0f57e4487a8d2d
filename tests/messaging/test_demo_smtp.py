"""The demo of the SMTP gateway (`make run`): `carnet demo_tls` writes a usable self-signed pair,
and the swaks command `carnet seed_demo` prints reaches the demo patient's inbox once Dr Claire
DÉMO has a basis on her space (the journey attests consent), and not before."""

import shlex
import shutil
import ssl
import stat
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from carnet.accounts.models import User
from carnet.enrollment.management.commands.seed_demo import (
    DEMO_PRO_IDENTIFIER,
    DEMO_SMTP_BODY,
    DEMO_SMTP_SUBJECT,
)
from carnet.enrollment.selectors import space_for_user
from carnet.messaging.gateway import gateway_controller
from carnet.messaging.management.commands.demo_tls import demo_tls_paths
from carnet.messaging.models import Conversation, Message
from carnet.messaging.services import message_text, patient_address
from carnet.professionals.selectors import professional_of
from tests.messaging.conftest import authorise
from tests.ports import free_port

NOT_DEMO = "le mode démonstration n'est pas actif"


def _demo_tls(*args) -> str:
    out = StringIO()
    call_command("demo_tls", *args, stdout=out)
    return out.getvalue()


# --- carnet demo_tls ---------------------------------------------------------------------------


def test_demo_tls_writes_a_usable_pair_once(tmp_path):
    folder = tmp_path / "smtpd"
    assert "écrit" in _demo_tls(str(folder))
    cert_file, key_file = demo_tls_paths(folder)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]

    # Run again (make run does, every time): the pair is kept.
    before = cert_file.read_bytes(), key_file.read_bytes()
    assert "déjà présent" in _demo_tls(str(folder))
    assert (cert_file.read_bytes(), key_file.read_bytes()) == before

    # A broken pair is replaced.
    key_file.write_text("abîmé")
    assert "écrit" in _demo_tls(str(folder))
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_file, key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_demo_tls_defaults_to_var_smtpd(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    _demo_tls()
    assert all(p.is_file() for p in demo_tls_paths(tmp_path / "smtpd"))


def test_demo_tls_refuses_outside_demo_mode(tmp_path, settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match=NOT_DEMO):
        _demo_tls(str(tmp_path / "smtpd"))
    assert not (tmp_path / "smtpd").exists()


# --- The swaks command of seed_demo -------------------------------------------------------------


def _seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _swaks_of(output: str) -> list[str]:
    [line] = [line for line in output.splitlines() if line.strip().startswith("swaks ")]
    return shlex.split(line)


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (the command seed_demo printed)
        args, capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture
def demo_gateway(tmp_path, settings):
    """seed_demo printing the port of a gateway started here, with demo_tls's pair."""
    settings.SMTPD_HOST = "127.0.0.1"
    settings.SMTPD_PORT = free_port()
    _demo_tls(str(tmp_path / "smtpd"))
    cert_file, key_file = demo_tls_paths(tmp_path / "smtpd")
    controller = gateway_controller(cert_file=str(cert_file), key_file=str(key_file))
    controller.start()
    yield controller
    controller.stop()
    controller.handler.executor.shutdown(wait=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    shutil.which("swaks") is None,
    reason="swaks n'est pas installé (Debian : apt-get install swaks)",
)
def test_the_printed_swaks_command_reaches_the_demo_patient(demo_gateway, client):
    printed = _seed_demo()
    assert "une fois le consentement attesté par Dr Claire DÉMO" in printed
    first = _swaks_of(printed)
    patient = User.objects.get(identifier="demo.patient")
    space = space_for_user(patient)
    doctor = professional_of(User.objects.get(identifier=DEMO_PRO_IDENTIFIER))
    assert doctor.messaging_address == "claire.demo@demo.mssante.exemple.fr"
    assert first[first.index("--server") + 1] == f"127.0.0.1:{demo_gateway.port}"
    assert first[first.index("--auth-user") + 1] == doctor.rpps
    assert first[first.index("--from") + 1] == doctor.messaging_address
    assert first[first.index("--to") + 1] == patient_address(space)

    # At the start of the demo Dr Claire DÉMO has no basis: the recipient is refused.
    refused = _run(first)
    assert refused.returncode != 0
    assert "Vous ne pouvez pas ecrire a ce patient" in refused.stdout
    assert not Conversation.objects.filter(space=space, professional=doctor).exists()

    # Once she has one (the journey attests consent), the mail arrives in the inbox.
    authorise(space, doctor)
    # seed_demo run again (make run again): a new password, the previous one stops working.
    second = _swaks_of(_seed_demo())
    assert second != first
    assert _run(first).returncode != 0
    sent = _run(second)
    assert sent.returncode == 0, sent.stdout
    [conversation] = Conversation.objects.filter(space=space, professional=doctor)
    assert conversation.subject == DEMO_SMTP_SUBJECT
    [message] = Message.objects.filter(conversation=conversation)
    assert message.channel == Message.Channel.SMTP
    assert message_text(message) == DEMO_SMTP_BODY

    # The patient reads it in /messagerie/ and answers.
    client.force_login(patient)
    assert DEMO_SMTP_SUBJECT in client.get("/messagerie/").text
    url = f"/messagerie/{conversation.public_id}/"
    assert DEMO_SMTP_BODY in client.get(url).text
    assert client.post(url, {"body": "Merci docteur."}).status_code == 302
    [answer] = Message.objects.filter(conversation=conversation, author_kind="usager")
    assert message_text(answer) == "Merci docteur."


def test_the_readme_tells_the_swaks_step_and_where_the_reply_goes():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## La messagerie sécurisée de démonstration", 1)[1].split("\n## ")[0]
    for text in (
        "swaks --server 127.0.0.1:2525 --tls --auth PLAIN --auth-user 19999990013",
        "claire.demo@demo.mssante.exemple.fr",
        "272069999900204@patient.carnet.localhost",
        "http://127.0.0.1:8000/messagerie/",
        "`EMAIL_URL`",
    ):
        assert text in section, text
