"""Sessions: fixation, the pending login, idle and absolute expiry, logout, suspension."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.test import Client

from carnet.accounts import services
from carnet.accounts.models import SessionRecord, User
from carnet.audit.models import Event
from carnet.core import clock
from tests.enrollment.helpers import PASSWORD

from .helpers import (
    FAILED,
    last_code,
    login,
    page,
    password_step,
    session_exists,
    session_key,
    store,
)

pytestmark = pytest.mark.django_db

PRIVATE = "/documents/"
LIFETIME = timedelta(hours=12)


def goes_to_login(response, login_path="/connexion/") -> bool:
    return response.status_code == 302 and response["Location"].startswith(f"{login_path}?next=")


def anonymous(client) -> bool:
    return goes_to_login(client.get(PRIVATE))


def client_with_cookie(key: str) -> Client:
    other = Client()
    other.cookies[settings.SESSION_COOKIE_NAME] = key
    return other


# --- Fixation and the pending login -------------------------------------------------------


def test_the_key_changes_at_each_step_and_earlier_keys_are_gone(client, patient):
    planted = client.session  # a session an attacker could have slipped to the victim
    planted["visite"] = True
    planted.save()
    planted_key = planted.session_key
    assert session_key(client) == planted_key

    password_step(client, User.Kind.PATIENT, "alice.martin", PASSWORD)
    pending_key = session_key(client)
    client.post("/connexion/mode/", {"channel": "email"})
    client.post("/connexion/code/", {"code": last_code(patient)})
    logged_key = session_key(client)

    assert client.get(PRIVATE).status_code == 200
    assert len({planted_key, pending_key, logged_key}) == 3
    assert not session_exists(planted_key)
    assert not session_exists(pending_key)
    assert session_exists(logged_key)


def test_the_pending_login_never_authenticates(client, patient):
    password_step(client, User.Kind.PATIENT, "alice.martin", PASSWORD)
    assert anonymous(client)
    client.post("/connexion/mode/", {"channel": "email"})  # the code is sent, not typed
    assert anonymous(client)
    assert "_auth_user_id" not in client.session
    assert "Bonjour Alice" not in page(client.get("/"))
    assert not SessionRecord.objects.exists()


# --- Idle timeout -------------------------------------------------------------------------


def test_the_idle_timeout_is_thirty_minutes_renewed_by_activity(client, patient):
    """Activity renews the session at most once a minute (SESSION_SEEN_INTERVAL): it is then
    saved, and its cookie sent again for 30 minutes; in between, nothing is written."""
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.CARNET["SESSION_SEEN_INTERVAL"] == timedelta(minutes=1)
    login(client, patient, PASSWORD)
    response = client.get(PRIVATE)
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 30 * 60
    key = session_key(client)
    before = store(key).load()
    with clock.travel(timedelta(seconds=50)):
        response = client.get(PRIVATE)
        assert response.status_code == 200
        assert settings.SESSION_COOKIE_NAME not in response.cookies
        assert store(key).load() == before  # not saved again
    with clock.travel(timedelta(seconds=61)):
        response = client.get(PRIVATE)
        assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 30 * 60
        assert store(key).load()["seen_at"] > before["seen_at"]


def test_the_page_counts_the_idle_timeout_from_the_last_renewal(client, patient):
    """Between two renewals, the idle warning's deadline is the session's real one: the 30
    minutes counted from the last save, not from this page."""
    login(client, patient, PASSWORD)
    client.get(PRIVATE)  # renewed now
    with clock.travel(timedelta(seconds=40)):
        found = re.search(r'data-expires-in="(\d+)"', page(client.get(PRIVATE)))
    assert int(found.group(1)) == 30 * 60 - 40


@pytest.mark.skipif(
    settings.SESSION_ENGINE != "django.contrib.sessions.backends.db", reason="database sessions"
)
def test_the_stored_session_expires_thirty_minutes_after_the_last_request(client, patient):
    login(client, patient, PASSWORD)
    client.get(PRIVATE)
    row = Session.objects.get(session_key=session_key(client))
    left = row.expire_date - clock.now()
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)


def test_an_idle_session_ends(client, patient):
    login(client, patient, PASSWORD)
    key = session_key(client)
    session = store(key)
    session.set_expiry(-1)  # its last request was more than the idle timeout ago
    session.save()
    assert anonymous(client)
    assert "_auth_user_id" not in store(key).load()


def test_a_shorter_idle_timeout_setting_is_what_the_cookie_says(client, patient, settings):
    settings.SESSION_COOKIE_AGE = 5 * 60
    login(client, patient, PASSWORD)
    assert client.get(PRIVATE).cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 5 * 60


def test_a_secret_key_rotation_keeps_each_session_s_line_of_devices(client, patient, settings):
    """Django verifies a session with a retired key (SECRET_KEY_FALLBACKS) once and gives it a
    new id: its line of "Mes appareils et sessions" follows, so ending it there still ends it."""
    login(client, patient, PASSWORD)
    old = session_key(client)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "cle-secrete-de-test-apres-rotation-" + "k" * 40
    assert client.get(PRIVATE).status_code == 200
    new = session_key(client)
    assert new != old and not session_exists(old)
    record = SessionRecord.objects.get(user=patient, ended_at__isnull=True)
    assert record.session_key == new
    assert services.session_end(user=patient, public_id=record.public_id)
    assert anonymous(client)


# --- Absolute lifetime --------------------------------------------------------------------


def test_an_active_session_ends_twelve_hours_after_login(client, patient):
    login(client, patient, PASSWORD)
    key = session_key(client)
    with clock.travel(LIFETIME - timedelta(minutes=1)):
        assert client.get(PRIVATE).status_code == 200
    with clock.travel(LIFETIME + timedelta(seconds=1)):
        response = client.get(PRIVATE)
        assert response["Location"] == f"/connexion/?next={PRIVATE}"
        assert not session_exists(key)
        assert SessionRecord.objects.get(session_key=key).ended_at is not None
        assert "Votre session a expiré" in page(client.get(response["Location"]))
        assert anonymous(client)


def test_after_twelve_hours_a_public_page_shows_the_visitor_view(client, patient):
    login(client, patient, PASSWORD)
    assert "Bonjour Alice" in page(client.get("/"))
    with clock.travel(LIFETIME + timedelta(seconds=1)):
        response = client.get("/")
        assert response.status_code == 200
        assert "Bonjour Alice" not in page(response)
        assert "Votre session a expiré" in page(response)
        assert anonymous(client)


def test_a_professional_session_expires_to_the_professional_login(client, professional):
    from .helpers import PRO_PASSWORD

    login(client, professional, PRO_PASSWORD)
    with clock.travel(LIFETIME + timedelta(seconds=1)):
        response = client.get("/pro/")
    assert response["Location"] == "/pro/connexion/?next=/pro/"


# --- Logout -------------------------------------------------------------------------------


def test_logout_ends_the_session_server_side(client, patient):
    login(client, patient, PASSWORD)
    key = session_key(client)
    assert session_exists(key)
    response = client.post("/deconnexion/")
    assert response["Location"] == "/connexion/"
    assert not session_exists(key)
    assert SessionRecord.objects.get(session_key=key).ended_at is not None
    # the old cookie, replayed, is anonymous
    assert anonymous(client_with_cookie(key))


def test_logout_is_post_only(client, patient):
    login(client, patient, PASSWORD)
    assert client.get("/deconnexion/").status_code == 405
    assert client.get(PRIVATE).status_code == 200


@pytest.mark.parametrize("who", ["professional", "operator"])
def test_professionals_and_operators_can_log_out(client, request, passwords, who):
    user = request.getfixturevalue(who)
    login(client, user, passwords[user.kind])
    key = session_key(client)
    response = client.post("/deconnexion/")
    assert response.status_code == 302
    assert response["Location"] == {"professional": "/pro/connexion/"}.get(
        who, "/operateur/connexion/"
    )
    assert not session_exists(key)


# --- Suspension by an operator ------------------------------------------------------------


def test_suspension_ends_every_session_at_once(patient, operator):
    phone, laptop = Client(), Client()
    login(phone, patient, PASSWORD)
    login(laptop, patient, PASSWORD)
    keys = [session_key(phone), session_key(laptop)]
    assert all(c.get(PRIVATE).status_code == 200 for c in (phone, laptop))

    ended = services.account_suspend(operator=operator, user=patient, reason="fraude")

    assert ended == 2
    assert not any(session_exists(k) for k in keys)
    assert anonymous(phone) and anonymous(laptop)
    assert not SessionRecord.objects.filter(user=patient, ended_at__isnull=True).exists()
    patient.refresh_from_db()
    assert patient.is_active is False
    event = Event.objects.get(action="compte_suspendu")
    assert event.actor == operator.actor
    assert event.object_id == str(patient.public_id)
    # and the account cannot log in again
    response = password_step(Client(), User.Kind.PATIENT, "alice.martin", PASSWORD)
    assert FAILED in page(response)


def test_only_an_operator_may_suspend(client, patient, professional):
    login(client, patient, PASSWORD)
    with pytest.raises(PermissionDenied):
        services.account_suspend(operator=professional, user=patient)
    with pytest.raises(PermissionDenied):
        services.account_suspend(operator=patient, user=patient)
    patient.refresh_from_db()
    assert patient.is_active is True
    assert client.get(PRIVATE).status_code == 200
    assert not Event.objects.filter(action="compte_suspendu").exists()


def test_an_inactive_account_is_refused_on_its_next_request_even_without_a_record(client, patient):
    """Second line of defence: Django's backend refuses inactive users on each request."""
    login(client, patient, PASSWORD)
    SessionRecord.objects.all().delete()  # a session that sessions_end would not know
    User.objects.filter(pk=patient.pk).update(is_active=False)
    assert anonymous(client)
