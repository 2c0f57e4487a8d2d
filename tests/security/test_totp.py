"""Professionals and operators may use an authenticator app (TOTP) instead of a sent code."""

from datetime import timedelta

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from carnet.accounts.models import User
from carnet.core import clock
from carnet.notifications.models import OutboxMessage
from tests.enrollment.helpers import PASSWORD

from .helpers import LOGIN_PATHS, OPERATOR_PASSWORD, PRO_PASSWORD, page, password_step

pytestmark = pytest.mark.django_db

BLOCKED = "Trop de codes erronés"


def device_for(user, confirmed=True) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Application", confirmed=confirmed)


def _totp(device: TOTPDevice, offset_steps: int = 0) -> TOTP:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift + offset_steps)
    return totp


def current_token(device: TOTPDevice) -> str:
    device.refresh_from_db()
    return f"{_totp(device).token():0{device.digits}d}"


def wrong_token(device: TOTPDevice) -> str:
    """A code that matches none of the steps the device accepts (its tolerance around now)."""
    device.refresh_from_db()
    accepted = {
        _totp(device, offset).token() for offset in range(-device.tolerance, device.tolerance + 1)
    }
    return next(f"{n:06d}" for n in range(1000) if n not in accepted)


def to_code_step(client, user, password):
    base = LOGIN_PATHS[user.kind]
    assert password_step(client, user.kind, user.identifier, password)["Location"] == (
        f"{base}mode/"
    )
    response = client.get(f"{base}mode/")  # no channel to choose: the app gives the code
    assert response["Location"] == f"{base}code/"
    assert "application d'authentification" in page(client.get(f"{base}code/"))
    return f"{base}code/"


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture(params=["professional", "operator"])
def member(request):
    user = request.getfixturevalue(request.param)
    password = PRO_PASSWORD if user.kind == User.Kind.PROFESSIONAL else OPERATOR_PASSWORD
    return user, password, device_for(user)


def test_log_in_with_the_authenticator_code(client, member):
    user, password, device = member
    code_url = to_code_step(client, user, password)
    response = client.post(code_url, {"code": current_token(device)})
    assert response["Location"] == {User.Kind.PROFESSIONAL: "/pro/"}.get(user.kind, "/operateur/")
    assert logged_in(client)
    assert client.get(response["Location"]).status_code == 200
    assert not OutboxMessage.objects.filter(to=user.email).exists()  # nothing was sent


def test_a_used_code_cannot_be_replayed(client, member):
    user, password, device = member
    token = current_token(device)
    client.post(to_code_step(client, user, password), {"code": token})
    assert logged_in(client)
    client.post("/deconnexion/")
    other = Client()
    response = other.post(to_code_step(other, user, password), {"code": token})
    assert response.status_code == 200 and "Code incorrect." in page(response)
    assert not logged_in(other)


def test_wrong_codes_are_refused_counted_and_blocked_after_five(client, member, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own delay is real time: ours is tested
    user, password, device = member
    code_url = to_code_step(client, user, password)
    for _ in range(5):
        response = client.post(code_url, {"code": wrong_token(device)})
        assert response.status_code == 200
        assert "Code incorrect." in page(response)
        assert not logged_in(client)
    # the sixth try is refused even with the right code
    response = client.post(code_url, {"code": current_token(device)})
    assert BLOCKED in page(response)
    assert not logged_in(client)
    # a new login does not lift the block
    other = Client()
    response = other.post(to_code_step(other, user, password), {"code": current_token(device)})
    assert BLOCKED in page(response)
    with clock.travel(timedelta(minutes=15, seconds=1)):
        third = Client()
        response = third.post(to_code_step(third, user, password), {"code": current_token(device)})
        assert response.status_code == 302
        assert logged_in(third)


def test_four_wrong_codes_then_the_right_one_logs_in(client, member, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user, password, device = member
    code_url = to_code_step(client, user, password)
    for _ in range(4):
        client.post(code_url, {"code": wrong_token(device)})
    assert client.post(code_url, {"code": current_token(device)}).status_code == 302
    assert logged_in(client)


def test_an_unconfirmed_device_is_ignored(client, professional):
    device_for(professional, confirmed=False)
    password_step(client, User.Kind.PROFESSIONAL, professional.identifier, PRO_PASSWORD)
    response = client.get("/pro/connexion/mode/")
    assert response.status_code == 200  # the usual choice of channel
    assert "Par e-mail" in page(response)


def test_patients_log_in_with_a_sent_code_even_with_a_device(client, patient):
    device_for(patient)
    password_step(client, User.Kind.PATIENT, patient.identifier, PASSWORD)
    assert client.get("/connexion/mode/").status_code == 200
