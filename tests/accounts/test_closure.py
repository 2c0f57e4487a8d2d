"""Closing one's space and asking for deletion, from the settings: behind a fresh
re-authentication and an explicit confirmation; each action audited. Moved here, with the
intent of each assertion kept, from tests/enrollment/test_closure_views.py."""

from datetime import timedelta

import pytest
from django.test import Client

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.core import clock
from carnet.enrollment.models import Space
from tests.enrollment.helpers import PASSWORD, space_of

from .helpers import code_sent_to, is_logged_in, log_in, page, reauthenticate

pytestmark = pytest.mark.django_db

CLOSE = "/parametres/cloturer-mon-espace/"
DELETE = "/parametres/supprimer-mes-donnees/"
SPACE = "/parametres/mon-espace/"
REAUTH = "/parametres/confirmer-mon-identite/"


@pytest.fixture
def reauthenticated(logged_in):
    client, user = logged_in
    response = reauthenticate(client, user)
    assert response.status_code == 302
    return client, space_of(user.person), user


def _close(client):
    response = client.post(CLOSE, {"confirm": "on"})
    assert response["Location"] == "/connexion/", page(response)
    return response


def _back_in(client, user):
    """Log in again (closing logged out) and confirm one's identity again."""
    log_in(client, user.identifier)
    reauthenticate(client, user)


@pytest.mark.parametrize("url", [CLOSE, DELETE, SPACE, REAUTH])
def test_closure_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/connexion/?next={url}"
    response = client.post(url, {"confirm": "on", "action": "rouvrir"})
    assert response["Location"].startswith("/connexion/")


@pytest.mark.parametrize("url", [CLOSE, DELETE])
def test_without_reauthentication_one_is_sent_to_reauthenticate(logged_in, url):
    client, user = logged_in
    for response in (client.get(url), client.post(url, {"confirm": "on"})):
        assert response["Location"] == REAUTH
    assert space_of(user.person).state == Space.State.ACTIVE
    # once confirmed, one comes back to where one was going
    response = reauthenticate(client, user)
    assert response["Location"] == url


def test_reauthentication_refuses_a_wrong_password_or_code(logged_in):
    client, user = logged_in
    response = client.post(REAUTH, {"password": "pas-le-bon-mot-de-passe", "channel": "email"})
    assert response.status_code == 200 and "Mot de passe incorrect." in page(response)
    assert client.get(REAUTH + "code/")["Location"] == REAUTH  # no code step without it
    client.post(REAUTH, {"password": PASSWORD, "channel": "sms"})
    response = client.post(REAUTH + "code/", {"code": "000000"})
    assert "Code incorrect. Il vous reste 4 essai(s)." in page(response)
    assert client.get(CLOSE)["Location"] == REAUTH
    # a login code is not a re-authentication code
    response = client.post(REAUTH + "code/", {"code": code_sent_to(user.email)})
    assert response.status_code == 200
    assert client.get(CLOSE)["Location"] == REAUTH
    response = client.post(REAUTH + "code/", {"code": code_sent_to(user.mobile)})
    assert response["Location"] == CLOSE  # where the person was going
    assert client.get(CLOSE).status_code == 200
    assert "identite_confirmee" in set(
        Event.objects.filter(object_id=str(user.public_id)).values_list("action", flat=True)
    )


def test_reauthentication_lasts_reauth_validity(reauthenticated):
    client, _, _ = reauthenticated
    assert client.get(CLOSE).status_code == 200
    with clock.travel(timedelta(minutes=10, seconds=1)):
        assert client.get(CLOSE)["Location"] == REAUTH


def test_the_confirmation_says_what_happens_to_the_data(reauthenticated):
    client, _, _ = reauthenticated
    text = page(client.get(CLOSE))
    assert "conservées 10 ans puis supprimées" in text
    text = page(client.get(DELETE))
    assert "vous disposez de 7 jours pour annuler" in text
    assert "détruits définitivement" in text


def test_closing_needs_the_box_ticked(reauthenticated):
    client, space, _ = reauthenticated
    response = client.post(CLOSE, {})
    assert response.status_code == 200
    assert "Cochez la case pour confirmer." in page(response)
    assert space_of(space.person).state == Space.State.ACTIVE


def test_closing_ends_every_session_at_once(reauthenticated, many_codes):
    client, space, user = reauthenticated
    other = Client()
    log_in(other, user.identifier)
    response = client.post(CLOSE, {"confirm": "on"}, follow=True)
    assert "Votre espace est clôturé et vous êtes déconnecté(e)." in page(response)
    assert space_of(space.person).state == Space.State.CLOSED
    assert not is_logged_in(client) and not is_logged_in(other)
    assert not user.session_records.filter(ended_at__isnull=True).exists()


def test_close_then_request_deletion_cancel_and_reopen(reauthenticated, many_codes):
    client, space, user = reauthenticated
    _close(client)
    assert space_of(space.person).state == Space.State.CLOSED
    log_in(client, user.identifier)
    assert "Rouvrir mon espace ou gérer la suppression" in page(client.get("/"))
    assert "archivées jusqu'au" in page(client.get(SPACE))

    # deletion needs a fresh re-authentication and its own confirmation
    assert client.get(DELETE)["Location"] == REAUTH
    reauthenticate(client, user)
    response = client.post(DELETE, {})
    assert "Cochez la case pour confirmer." in page(response)
    assert space_of(space.person).deletion_requested_at is None
    response = client.post(DELETE, {"confirm": "on"})
    assert response["Location"] == SPACE
    assert space_of(space.person).deletion_requested_at is not None
    assert "Suppression demandée" in page(client.get(SPACE))

    client.post(SPACE, {"action": "annuler"})
    assert space_of(space.person).deletion_requested_at is None

    response = client.post(SPACE, {"action": "rouvrir"})
    assert response["Location"] == "/"
    assert space_of(space.person).state == Space.State.ACTIVE
    actions = list(
        Event.objects.filter(space_id=space.public_id, actor=user.actor)
        .exclude(object_type="user")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions[-4:] == [
        "espace_transition",
        "suppression_demandee",
        "suppression_annulee",
        "espace_transition",
    ]


def test_deletion_of_an_active_space_closes_it_first(reauthenticated, many_codes):
    client, space, user = reauthenticated
    other = Client()
    log_in(other, user.identifier)
    response = client.post(DELETE, {"confirm": "on"}, follow=True)
    assert "la suppression de vos données est demandée" in page(response)
    space = space_of(space.person)
    assert space.state == Space.State.CLOSED
    assert space.deletion_due_at - space.deletion_requested_at == timedelta(days=7)
    assert not is_logged_in(client) and not is_logged_in(other)


def test_unknown_action_changes_nothing(reauthenticated, many_codes):
    client, space, user = reauthenticated
    _close(client)
    log_in(client, user.identifier)
    count = Event.objects.count()
    response = client.post(SPACE, {"action": "purger", "confirm": "1"}, follow=True)
    assert "Choisissez une action proposée" in page(response)
    assert space_of(space.person).state == Space.State.CLOSED
    assert Event.objects.count() == count


def test_closing_twice_is_refused_with_a_message(reauthenticated, many_codes):
    client, space, user = reauthenticated
    _close(client)
    _back_in(client, user)
    count = Event.objects.filter(space_id=space.public_id).count()
    response = client.post(CLOSE, {"confirm": "on"}, follow=True)
    assert "Impossible de passer l'espace" in page(response)
    assert is_logged_in(client)
    assert Event.objects.filter(space_id=space.public_id).count() == count
    assert "déjà fermé" in page(client.get(CLOSE))


def test_an_account_without_space_gets_404(client):
    User.objects.create_user(
        "sans.espace.test",
        PASSWORD,
        kind=User.Kind.PATIENT,
        email="sans.espace@exemple.fr",
        email_verified=True,
    )
    log_in(client, "sans.espace.test")
    user = User.objects.get(identifier="sans.espace.test")
    reauthenticate(client, user)
    assert client.get(CLOSE).status_code == 404
    assert client.post(SPACE, {"action": "rouvrir"}).status_code == 404
