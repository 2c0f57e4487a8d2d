"""Removing the other legal representative is the operator's (issue 9): `carnet end_link`."""

import pytest
from django.core.management import CommandError, call_command

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.family.models import Link
from tests.enrollment.helpers import space_of

from .test_children import attach


@pytest.fixture
def operator(db):
    return User.objects.create_user("operateur.cpam", None, kind=User.Kind.OPERATOR)


def test_the_operator_ends_a_representatives_link(alice_client, alice, child, operator):
    attach(alice_client, child)
    space = space_of(child.person)
    call_command(
        "end_link", child.person.nir, alice.person.nir, operateur="operateur.cpam", motif="jugement"
    )
    link = Link.objects.get(space=space, user=alice)
    assert link.ended_at is not None and link.ended_reason == "operateur"
    event = Event.objects.get(space_id=space.public_id, action="lien_termine")
    assert event.actor == operator.actor
    assert "acting-banner" not in alice_client.get("/").content.decode()


def test_end_link_refusals_change_nothing(alice_client, alice, bob, child, operator):
    attach(alice_client, child)
    with pytest.raises(CommandError, match="Aucun rattachement en cours"):
        call_command("end_link", child.person.nir, bob.person.nir, operateur="operateur.cpam")
    with pytest.raises(CommandError, match="opérateur introuvable"):
        call_command("end_link", child.person.nir, alice.person.nir, operateur="personne")
    with pytest.raises(CommandError, match="Seul un opérateur"):
        call_command("end_link", child.person.nir, alice.person.nir, operateur="alice.martin")
    with pytest.raises(CommandError, match="invalide"):
        call_command("end_link", "123", alice.person.nir, operateur="operateur.cpam")
    assert Link.objects.get(user=alice).ended_at is None
