"""The activation page /pro/activer/<token>/: identifier and password, then the TOTP device;
then the professional logs in at /pro/connexion/ with password and TOTP code."""

import secrets
from base64 import b32encode
from datetime import timedelta

import pytest
from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.core import clock
from carnet.notifications.models import OutboxMessage
from carnet.professionals.models import Invitation, Professional
from tests.pages import field_error, is_invalid

from .conftest import rpps, totp_code

PASSWORD = "ordonnance-verte-tilleul-7"
GONE = "Ce lien n'est plus valable"


def credentials(client, link, **overrides):
    data = {
        "identifier": "dr.claire.fictif",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        **overrides,
    }
    return client.post(link, data)


def pending_device(identifier="dr.claire.fictif") -> TOTPDevice:
    return TOTPDevice.objects.get(user__identifier=identifier, confirmed=False)


@pytest.fixture
def link(directory, invite):
    return invite(rpps(1))


def test_the_whole_activation_then_login_with_totp(client, link):
    page = client.get(link)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Activer mon compte professionnel" in text and "Claire FICTIF1" in text
    assert "Étape 1 sur 2" in text

    response = credentials(client, link)
    assert response.status_code == 302
    assert response["Location"] == f"{link}authentificateur/"
    user = User.objects.get(identifier="dr.claire.fictif")
    assert user.kind == User.Kind.PROFESSIONAL and not user.is_active

    page = client.get(response["Location"])
    text = page.content.decode()
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in text
    device = pending_device()
    secret = b32encode(device.bin_key).decode()
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in text
    assert "<script>" not in text  # CSP: no inline script

    response = client.post(f"{link}authentificateur/", {"code": totp_code(device)})
    assert response.status_code == 302 and response["Location"] == "/pro/connexion/"
    user.refresh_from_db()
    assert user.is_active and user.email == "claire.fictif1@exemple.fr" and user.email_verified
    assert Professional.objects.get(rpps=rpps(1)).user == user
    assert TOTPDevice.objects.get(user=user).confirmed
    assert Invitation.objects.get().used_at is not None
    event = Event.objects.get(action="compte_professionnel_active")
    assert event.actor == user.actor
    assert OutboxMessage.objects.filter(kind="activation_professionnel").count() == 1
    page = client.get("/pro/connexion/")
    assert "Votre compte professionnel est activé" in page.content.decode()

    # Logging in: password, then the authenticator's code (not an email code).
    response = client.post(
        "/pro/connexion/", {"identifier": "dr.claire.fictif", "password": PASSWORD}
    )
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302 and response["Location"] == "/pro/connexion/code/"
    device.refresh_from_db()
    response = client.post("/pro/connexion/code/", {"code": totp_code(device, ahead=1)})
    assert response.status_code == 302 and response["Location"] == "/pro/"
    assert client.get("/pro/").status_code == 200

    # The link served once: it is no longer valid.
    client.logout()
    page = client.get(link)
    assert page.status_code == 410 and GONE in page.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/pro/activer/Zk3_q9Xv-2mB8sLr0PwYt7NcHdEa5UjKoQ1iFgR4hTx/",  # well formed, never issued
        "/pro/activer/abc/",
        "/pro/activer/" + "A" * 500 + "/",
    ],
)
def test_a_forged_link_gets_the_same_page(client, directory, path):
    for url in (path, path + "authentificateur/"):
        page = client.get(url)
        assert page.status_code == 410
        assert GONE in page.content.decode()


def test_an_expired_link(client, link):
    with clock.travel(timedelta(days=7, minutes=1)):
        page = client.get(link)
    assert page.status_code == 410 and GONE in page.content.decode()


def test_a_link_expiring_between_the_two_steps(client, link):
    credentials(client, link)
    device = pending_device()
    with clock.travel(timedelta(days=7, minutes=1)):
        response = client.post(f"{link}authentificateur/", {"code": totp_code(device)})
    assert response.status_code == 410
    assert not User.objects.get(identifier="dr.claire.fictif").is_active
    assert Professional.objects.get(rpps=rpps(1)).user is None


def test_a_revoked_link(client, link, invite):
    credentials(client, link)
    new_link = invite(rpps(1))
    assert client.get(link).status_code == 410
    # The account half set up through the old link is gone; the identifier is free again.
    assert not User.objects.filter(identifier="dr.claire.fictif").exists()
    assert client.get(new_link).status_code == 200
    assert credentials(client, new_link).status_code == 302


def test_bad_links_are_limited_per_client(client, link, settings):
    settings.CARNET = {**settings.CARNET, "ACTIVATION_MAX_FAILURES_PER_CLIENT": 3}
    for _ in range(3):
        client.get("/pro/activer/" + secrets.token_urlsafe(32) + "/")
    page = client.get(link)  # even a valid link, from this client
    assert page.status_code == 429
    assert "réessayez dans" in page.content.decode()
    other = client.__class__(REMOTE_ADDR="198.51.100.99")
    assert other.get(link).status_code == 200


def test_wrong_totp_code(client, link):
    credentials(client, link)
    device = pending_device()
    good = totp_code(device)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    page = client.post(f"{link}authentificateur/", {"code": wrong})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Code incorrect" in field_error(text, "code")
    assert is_invalid(text, "code")
    assert not User.objects.get(identifier="dr.claire.fictif").is_active
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    assert Invitation.objects.get().used_at is None
    page = client.post(f"{link}authentificateur/", {"code": "12a456"})
    assert "que des chiffres" in field_error(page.content.decode(), "code")


def test_wrong_totp_codes_are_limited(client, link):
    credentials(client, link)
    device = pending_device()
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    for _ in range(settings.CARNET["OTP_MAX_ATTEMPTS"]):
        client.post(f"{link}authentificateur/", {"code": wrong})
    page = client.post(f"{link}authentificateur/", {"code": totp_code(device)})
    assert "Trop de codes erronés" in field_error(page.content.decode(), "code")
    assert not User.objects.get(identifier="dr.claire.fictif").is_active


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"password": "court", "password_confirm": "court"}, "password", "de 12 à 128"),
        (
            {"password": "qwerty123456", "password_confirm": "qwerty123456"},
            "password",
            "courant",
        ),
        (
            {"password": "claire-fictif1-2026!", "password_confirm": "claire-fictif1-2026!"},
            "password",
            "nom et prénom",
        ),
        ({"password_confirm": PASSWORD + "x"}, "password_confirm", "pas identiques"),
        ({"identifier": "Dr Claire"}, "identifier", "lettres minuscules"),
        ({"identifier": "court"}, "identifier", "de 8 à 100"),
        ({"identifier": "claire@exemple.fr"}, "identifier", "lettres minuscules"),
        ({"identifier": ""}, "identifier", "Choisissez un identifiant."),
    ],
)
def test_credentials_errors_next_to_their_field(client, link, overrides, field, message):
    page = credentials(client, link, **overrides)
    assert page.status_code == 200
    text = page.content.decode()
    assert message in field_error(text, field)
    assert is_invalid(text, field)
    assert 'class="error-summary"' in text
    assert not User.objects.filter(kind=User.Kind.PROFESSIONAL).exists()


def test_identifier_already_taken(client, link, professional):
    page = credentials(client, link, identifier=professional.identifier)
    assert "déjà pris" in field_error(page.content.decode(), "identifier")


def test_the_second_step_needs_the_first(client, link):
    response = client.get(f"{link}authentificateur/")
    assert response.status_code == 302 and response["Location"] == link
    # Another browser with the link but not the first step's session is sent back too.
    credentials(client, link)
    other = client.__class__()
    response = other.get(f"{link}authentificateur/")
    assert response.status_code == 302 and response["Location"] == link


def test_doing_the_first_step_again_replaces_the_pending_account(client, link):
    credentials(client, link)
    first_device = pending_device()
    credentials(client, link, identifier="claire.fictif.pro")
    assert not User.objects.filter(identifier="dr.claire.fictif").exists()
    assert User.objects.filter(identifier="claire.fictif.pro", is_active=False).count() == 1
    assert not TOTPDevice.objects.filter(pk=first_device.pk).exists()
    assert TOTPDevice.objects.filter(user__identifier="claire.fictif.pro").count() == 1


def test_a_pending_account_cannot_log_in(client, link):
    credentials(client, link)
    page = client.post("/pro/connexion/", {"identifier": "dr.claire.fictif", "password": PASSWORD})
    assert page.status_code == 200
    assert "Identifiant ou mot de passe incorrect" in page.content.decode()
