"""Closure pages: login required, confirmation required, each action audited."""

import html

import pytest

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.enrollment.models import Space

from .helpers import space_of
from .wizard import login

pytestmark = pytest.mark.django_db


def _page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def holder(client, space_in):
    space, issued, user = space_in("active")
    login(client, user.identifier)
    return client, space, user


@pytest.mark.parametrize("url", ["/mon-espace/fermer/", "/mon-espace/ferme/"])
def test_closure_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/connexion/?next={url}"
    response = client.post(url, {"confirm": "on", "action": "rouvrir"})
    assert response["Location"].startswith("/connexion/")


def test_closing_needs_the_box_ticked(holder):
    client, space, _ = holder
    assert client.get("/mon-espace/fermer/").status_code == 200
    response = client.post("/mon-espace/fermer/", {})
    assert response.status_code == 200
    assert "Cochez la case pour confirmer." in _page(response)
    assert space_of(space.person).state == Space.State.ACTIVE


def test_close_then_request_deletion_cancel_and_reopen(holder):
    client, space, user = holder
    response = client.post("/mon-espace/fermer/", {"confirm": "on"})
    assert response["Location"] == "/mon-espace/ferme/"
    assert space_of(space.person).state == Space.State.CLOSED
    assert "archivées jusqu'au" in _page(client.get("/mon-espace/ferme/"))

    # deletion needs its own confirmation
    response = client.post("/mon-espace/ferme/", {"action": "supprimer"}, follow=True)
    assert "Cochez la case pour confirmer la suppression." in _page(response)
    assert space_of(space.person).deletion_requested_at is None
    client.post("/mon-espace/ferme/", {"action": "supprimer", "confirm": "1"})
    assert space_of(space.person).deletion_requested_at is not None
    assert "Suppression demandée" in _page(client.get("/mon-espace/ferme/"))

    client.post("/mon-espace/ferme/", {"action": "annuler"})
    assert space_of(space.person).deletion_requested_at is None

    response = client.post("/mon-espace/ferme/", {"action": "rouvrir"})
    assert response["Location"] == "/"
    assert space_of(space.person).state == Space.State.ACTIVE
    actions = list(
        Event.objects.filter(space_id=space.public_id, actor=user.actor)
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions[-4:] == [
        "espace_transition",
        "suppression_demandee",
        "suppression_annulee",
        "espace_transition",
    ]


def test_unknown_action_changes_nothing(holder):
    client, space, _ = holder
    client.post("/mon-espace/fermer/", {"confirm": "on"})
    count = Event.objects.count()
    response = client.post("/mon-espace/ferme/", {"action": "purger", "confirm": "1"}, follow=True)
    assert "Choisissez une action proposée" in _page(response)
    assert space_of(space.person).state == Space.State.CLOSED
    assert Event.objects.count() == count


def test_closing_twice_is_refused_with_a_message(holder):
    client, space, _ = holder
    client.post("/mon-espace/fermer/", {"confirm": "on"})
    response = client.post("/mon-espace/fermer/", {"confirm": "on"}, follow=True)
    assert "Impossible de passer l'espace" in _page(response)


def test_an_account_without_space_gets_404(client):
    User.objects.create_user("dr.demo.test", "stethoscope-bleu-2026", kind="professionnel")
    login(client, "dr.demo.test", "stethoscope-bleu-2026")
    assert client.get("/mon-espace/fermer/").status_code == 404
    assert client.post("/mon-espace/ferme/", {"action": "rouvrir"}).status_code == 404
