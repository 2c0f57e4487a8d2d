"""The second legal representative: invitation, answer, limits, expiry; leaving one's own link
(issue 9), through the real views and services."""

from datetime import timedelta

import pytest
from django.urls import reverse

from carnet.audit.models import Event
from carnet.core import clock
from carnet.family.models import Invitation, Link
from carnet.notifications.models import OutboxMessage
from tests.enrollment.helpers import space_of

from .test_children import attach

SWITCH = reverse("family:switch")


@pytest.fixture
def alices_link(alice_client, alice, child):
    attach(alice_client, child)
    return Link.objects.get(user=alice, space=space_of(child.person))


def invite(client, link, nir):
    return client.post(reverse("family:invite", args=[link.public_id]), {"nir": nir})


def answer(client, invitation, reply):
    return client.post(reverse("family:answer", args=[invitation.public_id]), {"reponse": reply})


def test_the_other_parent_accepts_and_then_manages_the_child(
    alice_client, client, alice, bob, alices_link
):
    response = invite(alice_client, alices_link, bob.person.nir)
    assert response.status_code == 302
    [invitation] = Invitation.objects.all()
    assert invitation.expires_at - invitation.created_at == timedelta(days=30)
    notice = OutboxMessage.objects.get(kind="invitation_representant")
    assert notice.to == bob.email and "Léa" not in notice.body  # no name, no health content
    client.force_login(bob)
    # Before accepting, Bob cannot act for Léa.
    space = alices_link.space
    assert client.post(SWITCH, {"profil": str(space.public_id)}).status_code == 404
    page = client.get(reverse("family:index")).content.decode()
    assert "Invitations reçues" in page and "Léa" in page
    answer(client, invitation, "accepter")
    link = Link.objects.get(user=bob, space=space)
    assert link.kind == Link.Kind.LEGAL_REPRESENTATIVE
    assert client.post(SWITCH, {"profil": str(space.public_id)}).status_code == 302
    assert "Vous agissez pour le profil de <strong>Léa" in client.get("/").content.decode()
    actions = set(Event.objects.filter(space_id=space.public_id).values_list("actor", "action"))
    assert (alice.actor, "invitation_envoyee") in actions
    assert (bob.actor, "invitation_acceptee") in actions


def test_a_refused_invitation_links_nothing(alice_client, client, bob, alices_link):
    invite(alice_client, alices_link, bob.person.nir)
    client.force_login(bob)
    answer(client, Invitation.objects.get(), "refuser")
    assert not Link.objects.filter(user=bob).exists()
    assert Invitation.objects.get().accepted is False


def test_an_expired_invitation_cannot_be_accepted(alice_client, client, bob, alices_link):
    invite(alice_client, alices_link, bob.person.nir)
    client.force_login(bob)
    with clock.travel(timedelta(days=30, minutes=1)):
        response = answer(client, Invitation.objects.get(), "accepter")
        page = client.get(response.url).content.decode()
    assert "Cette invitation a expiré le" in page
    assert not Link.objects.filter(user=bob).exists()


def test_at_most_two_legal_representatives(
    alice_client, client, alice, bob, issue_code, alices_link
):
    from tests.enrollment.helpers import activate

    carol = activate(issue_code(first_name="Carole", email="carole@exemple.fr"), "carole.p")
    invite(alice_client, alices_link, bob.person.nir)
    # Alice and Bob's pending invitation make two: a third is refused.
    response = invite(alice_client, alices_link, carol.person.nir)
    assert "au plus 2 représentants légaux" in response.content.decode()
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize("who", ["stranger", "self", "child"])
def test_invitations_to_the_wrong_person_are_refused(alice_client, alice, alices_link, who):
    nir = {
        "stranger": "1 80 05 75 112 999 21",  # no account
        "self": alice.person.nir,
        "child": alices_link.space.person.nir,
    }[who]
    response = invite(alice_client, alices_link, nir)
    assert response.status_code == 200
    assert not Invitation.objects.exists()


def test_only_the_invitee_answers(alice_client, client, bob, issue_code, alices_link):
    from tests.enrollment.helpers import activate

    invite(alice_client, alices_link, bob.person.nir)
    carol = activate(issue_code(first_name="Carole", email="carole@exemple.fr"), "carole.p")
    client.force_login(carol)
    answer(client, Invitation.objects.get(), "accepter")
    assert not Link.objects.filter(user=carol).exists()
    assert Invitation.objects.get().answered_at is None


def test_someone_who_does_not_manage_the_child_cannot_invite(client, bob, alices_link):
    client.force_login(bob)
    assert invite(client, alices_link, bob.person.nir).status_code == 404


def test_a_representative_leaves_their_own_link_after_confirming(alice_client, alices_link):
    url = reverse("family:leave", args=[alices_link.public_id])
    page = alice_client.get(url).content.decode()
    assert "Vous n'aurez plus accès" in page
    response = alice_client.post(url, {})
    assert response.status_code == 200  # not confirmed: nothing changes
    assert Link.objects.get(pk=alices_link.pk).ended_at is None
    alice_client.post(url, {"confirmed": "on"})
    link = Link.objects.get(pk=alices_link.pk)
    assert link.ended_at is not None and link.ended_reason == "retrait"


def test_no_one_ends_another_representatives_link(client, bob, alice, alices_link):
    client.force_login(bob)
    url = reverse("family:leave", args=[alices_link.public_id])
    assert client.post(url, {"confirmed": "on"}).status_code == 404
    assert Link.objects.get(pk=alices_link.pk).ended_at is None


def test_the_childs_history_has_a_tab_of_what_its_representatives_did(
    alice_client, client, alice, bob, alices_link
):
    invite(alice_client, alices_link, bob.person.nir)
    client.force_login(bob)
    answer(client, Invitation.objects.get(), "accepter")
    space = alices_link.space
    client.post(SWITCH, {"profil": str(space.public_id)})
    page = client.get(reverse("historique:index"), {"onglet": "representants"}).content.decode()
    assert "Représentants légaux et aidants" in page
    # Alice's actions in Léa's space, named, seen by Bob; his own are in « Mes activités ».
    assert f"{alice.person.first_name} {alice.person.last_name} (Représentant légal)" in page


def test_an_invitation_lapses_when_its_sender_no_longer_manages_the_child(
    alice_client, client, bob, alices_link
):
    import html

    invite(alice_client, alices_link, bob.person.nir)
    alice_client.post(reverse("family:leave", args=[alices_link.public_id]), {"confirmed": "on"})
    client.force_login(bob)
    response = answer(client, Invitation.objects.get(), "accepter")
    page = html.unescape(client.get(response.url).content.decode())
    assert "ne gère plus ce profil" in page
    assert not Link.objects.filter(user=bob).exists()
