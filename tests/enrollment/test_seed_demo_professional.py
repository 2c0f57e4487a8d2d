"""The demo professional of `carnet seed_demo` can log in: a confirmed TOTP device with a fixed,
synthetic key, `carnet demo_totp` for whoever has no authenticator app, both refused outside demo
mode. The demo professional starts with no basis on the demo patient (the journey attests consent).
"""

import os
import subprocess
import sys
from base64 import b32decode
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from carnet.accounts.models import User
from carnet.agenda.models import Appointment, Reminder
from carnet.consent.rules import professional_facts
from carnet.consent.services import consent_attest
from carnet.core import clock
from carnet.enrollment.management.commands.demo_totp import demo_device, usable_code
from carnet.enrollment.management.commands.seed_demo import (
    DEMO,
    DEMO_PASSWORD_PRO,
    DEMO_PRO_IDENTIFIER,
    DEMO_TOTP_SECRET,
    demo_nir,
    demo_otpauth_uri,
    grouped,
)
from carnet.enrollment.selectors import space_for_user
from carnet.professionals.portal_agenda import source_name
from carnet.professionals.selectors import professional_of
from carnet.registry.models import InsuredPerson

pytestmark = pytest.mark.django_db

CARNET = Path(sys.executable).with_name("carnet")
README = Path(__file__).resolve().parents[2] / "README.md"
NOT_DEMO = "le mode démonstration n'est pas actif"


@pytest.fixture(autouse=True)
def _no_otp_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.fixture
def seeded():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _code(device, *, ahead: int = 0) -> str:
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift + ahead)
    return f"{token.token():06d}"


def _demo_totp() -> list[str]:
    out = StringIO()
    call_command("demo_totp", stdout=out)
    return out.getvalue().splitlines()


def _log_in(client, code: str):
    response = client.post(
        "/pro/connexion/", {"identifier": DEMO_PRO_IDENTIFIER, "password": DEMO_PASSWORD_PRO}
    )
    assert response.status_code == 302 and response["Location"] == "/pro/connexion/mode/"
    response = client.get(response["Location"])  # a TOTP device: straight to the code
    assert response.status_code == 302 and response["Location"] == "/pro/connexion/code/"
    return client.post("/pro/connexion/code/", {"code": code})


def test_the_demo_professional_has_a_confirmed_demo_device_and_no_basis(seeded):
    user = User.objects.get(identifier=DEMO_PRO_IDENTIFIER)
    [device] = TOTPDevice.objects.filter(user=user)
    assert device.confirmed
    assert device.bin_key == b32decode(DEMO_TOTP_SECRET)
    assert "DEMO" in DEMO_TOTP_SECRET and "FICTIF" in DEMO_TOTP_SECRET
    doctor = professional_of(user)
    assert (doctor.first_name, doctor.last_name, doctor.specialty) == (
        "Claire",
        "DÉMO",
        "Médecine générale",
    )
    # The journey attests consent: no authorisation, not médecin traitant, not blocked.
    patient = User.objects.get(identifier="demo.patient")
    facts = professional_facts(space_for_user(patient), doctor)
    assert not (facts.authorised or facts.treating or facts.blocked or facts.colleague)

    # What `make run` shows: identifier, password, the key, its URI, the command, the patient.
    patient = InsuredPerson.objects.get(is_demo=True, last_name="DÉMO-ACTIVE")
    for text in (
        f"{DEMO_PRO_IDENTIFIER}  / {DEMO_PASSWORD_PRO}",
        "carnet demo_totp",
        "DEMO CARN ETFI CTIF TOTP NEPA SUTI LISE",
        f"otpauth://totp/Carnet:{DEMO_PRO_IDENTIFIER}?secret={DEMO_TOTP_SECRET}&issuer=Carnet",
        f"INS {patient.nir}, né(e) le 02/06/1972",
    ):
        assert text in seeded, text
    again = StringIO()
    call_command("seed_demo", stdout=again)
    assert "rien n'est modifié." in again.getvalue()
    assert "carnet demo_totp" in again.getvalue()
    assert TOTPDevice.objects.count() == 1


def test_the_demo_patient_has_an_agenda_with_an_appointment_of_the_demo_professional(
    seeded, client
):
    patient = User.objects.get(identifier="demo.patient")
    space = space_for_user(patient)
    doctor = professional_of(User.objects.get(identifier=DEMO_PRO_IDENTIFIER))
    now = clock.now()
    live = Appointment.objects.filter(space=space, deleted_at__isnull=True)
    upcoming = list(live.filter(starts_at__gt=now).order_by("starts_at"))
    assert [a.source for a in upcoming] == [
        Appointment.Source.PERSON,
        Appointment.Source.PROFESSIONAL,
    ]
    mine, claires = upcoming
    assert (mine.professional, mine.professional_name) == (None, "Dr Sophie DÉMO-OPHTALMO")
    assert not mine.read_only
    # Added as the portal adds one: her directory entry, the portal's name, read only.
    assert (claires.professional, claires.author) == (doctor, doctor.user)
    assert claires.source_name == source_name(doctor) == "Dr Claire DÉMO"
    assert claires.read_only
    assert live.filter(starts_at__lte=now).count() == 1
    [reminder] = Reminder.objects.filter(space=space)
    assert reminder.date > clock.today()
    assert all("démo" in row.title for row in [*live, reminder])
    # Still no basis on the patient (the journey attests consent); once she has one, the
    # portal lists her appointment, hers to change.
    facts = professional_facts(space, doctor)
    assert not (facts.authorised or facts.treating or facts.colleague)
    client.force_login(doctor.user)
    assert client.get(f"/pro/patients/{space.public_id}/rendez-vous/").status_code == 404
    consent_attest(user=doctor.user, professional=doctor, space=space)
    page = client.get(f"/pro/patients/{space.public_id}/rendez-vous/")
    assert page.status_code == 200
    assert [a.pk for a in page.context["upcoming"]] == [claires.pk]


def test_a_database_seeded_before_the_agenda_gets_it_once(seeded):
    space = space_for_user(User.objects.get(identifier="demo.patient"))
    Appointment.objects.filter(space=space).delete()
    Reminder.objects.filter(space=space).delete()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "sauf les rendez-vous et le rappel de démonstration de demo.patient." in out.getvalue()
    assert Appointment.objects.filter(space=space).count() == 3
    assert Reminder.objects.filter(space=space).count() == 1
    again = StringIO()
    call_command("seed_demo", stdout=again)
    assert "rien n'est modifié." in again.getvalue()
    assert Appointment.objects.filter(space=space).count() == 3


def test_the_readme_says_what_seed_demo_does():
    readme = README.read_text(encoding="utf-8")
    active = DEMO["active"]
    nir = demo_nir(2, active["birth_date"], active["order"])
    spaced = " ".join((nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]))
    for text in (
        f"`{DEMO_PRO_IDENTIFIER}` / `{DEMO_PASSWORD_PRO}`",
        f"`{grouped(DEMO_TOTP_SECRET)}`",
        f"`{demo_otpauth_uri()}`",
        "CARNET_DEMO=1 .venv/bin/carnet demo_totp",
        f"INS `{spaced}`",
        f"`{active['birth_date']:%d/%m/%Y}`",
    ):
        assert text in readme, text


def test_totp_login_of_the_demo_professional_through_the_real_views(client, seeded):
    device = demo_device()
    wrong = f"{(int(_code(device)) + 1) % 1_000_000:06d}"
    response = _log_in(client, wrong)
    assert response.status_code == 200
    assert "Code incorrect." in response.content.decode()

    response = client.post("/pro/connexion/code/", {"code": _code(device)})
    assert response.status_code == 302 and response["Location"] == "/pro/"
    page = client.get("/pro/")
    assert page.status_code == 200
    assert "Bonjour Claire DÉMO, médecin" in page.content.decode()


def test_demo_totp_prints_a_code_the_device_verifies_even_right_after_a_login(client, seeded):
    code, hint = _demo_totp()
    assert len(code) == 6 and code.isdigit()
    assert DEMO_PRO_IDENTIFIER in hint and "/pro/connexion/" in hint
    assert _log_in(client, code)["Location"] == "/pro/"

    # Within the same 30 s that code is spent; demo_totp gives one the check still accepts.
    client.logout()
    device = demo_device()
    second, _ = _demo_totp()
    again, _ = usable_code(device)
    assert second == again
    assert device.verify_token(second)


def test_usable_code_after_a_used_step_is_the_next_one():
    user = User.objects.create_user("pro.fictif", "x" * 16, kind=User.Kind.PROFESSIONAL)
    device = TOTPDevice.objects.create(user=user, key=b32decode(DEMO_TOTP_SECRET).hex())
    now = 1_800_000_015.0  # 15 s into a step
    step = int(now) // 30
    assert usable_code(device, at=now) == (_at(device, step), 15)
    device.last_t = step
    assert usable_code(device, at=now) == (_at(device, step + 1), 15)


def _at(device, step: int) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = step * 30
    return f"{totp.token():06d}"


def test_demo_totp_before_seed_demo_says_what_to_do():
    with pytest.raises(CommandError, match="lancez d'abord « carnet seed_demo »"):
        call_command("demo_totp")


def test_demo_totp_and_seed_demo_refuse_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match=NOT_DEMO):
        call_command("seed_demo")
    assert not User.objects.exists() and not InsuredPerson.objects.exists()
    with pytest.raises(CommandError, match=NOT_DEMO):
        call_command("demo_totp")


def test_a_database_seeded_before_gets_the_device(seeded):
    TOTPDevice.objects.all().delete()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "sauf l'application d'authentification de démonstration ajoutée" in out.getvalue()
    assert demo_device() is not None


def test_the_real_command_outside_demo_mode_exits_non_zero_in_french(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CARNET_"))}
    env.update(DJANGO_SETTINGS_MODULE="carnet.settings", CARNET_VAR_DIR=str(tmp_path / "var"))
    result = subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [str(CARNET), "demo_totp"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert NOT_DEMO in result.stderr and "CARNET_DEMO=1" in result.stderr
    assert "Traceback" not in result.stderr
