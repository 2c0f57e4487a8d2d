"""Fixtures of the professionals tests: directory files, an imported directory, TOTP codes."""

import csv
import re

import pytest
from django.core.management import call_command
from django_otp.oath import TOTP

from carnet.core.validators import rpps_key
from carnet.notifications.models import OutboxMessage
from carnet.professionals.services import COLUMNS


def rpps(n: int) -> str:
    first10 = f"10{n:08d}"
    return f"{first10}{rpps_key(first10)}"


def row(n: int = 1, **overrides) -> dict:
    values = {
        "rpps": rpps(n),
        "last_name": f"FICTIF{n}",
        "first_name": "Claire",
        "profession_code": "10",
        "profession": "médecin",
        "specialty": "Médecine générale",
        "establishment": "Cabinet médical des Tilleuls",
        "finess": "",
        "postcode": "75011",
        "city": "Paris",
        "messaging_address": f"claire.fictif{n}@medecin.mssante.exemple.fr",
        "email": f"claire.fictif{n}@exemple.fr",
    }
    values.update(overrides)
    return values


def write_csv(path, rows, *, delimiter=",", columns=COLUMNS):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(columns)
        for values in rows:
            writer.writerow([values.get(c, "") for c in columns])
    return path


def totp_code(device, *, ahead: int = 0) -> str:
    """The code the authenticator app shows now (or `ahead` steps later)."""
    token = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift + ahead)
    return f"{token.token():06d}"


def invitation_link(message: OutboxMessage) -> str:
    return re.search(r"https?://\S+/pro/activer/[A-Za-z0-9_-]+/", message.body).group(0)


def link_path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


@pytest.fixture(autouse=True)
def _no_otp_throttle(settings):
    # django-otp makes the next try wait after a wrong code (1 s, 2 s…): tests retry at once.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.fixture
def directory(db, tmp_path):
    """Three professionals imported through the command; returns their rows."""
    rows = [
        row(1),
        row(2, first_name="Hugo", profession="pharmacien", profession_code="21", specialty=""),
        row(3, first_name="Inès", profession="Infirmier", profession_code="60", specialty=""),
    ]
    call_command("import_professionals", str(write_csv(tmp_path / "annuaire.csv", rows)))
    return rows


@pytest.fixture
def invite():
    """Invite a professional through the command; returns the path of the link emailed."""

    def make(rpps_number: str) -> str:
        call_command("invite_professional", rpps_number)
        message = OutboxMessage.objects.filter(kind="invitation_professionnel").latest("id")
        return link_path(invitation_link(message))

    return make
