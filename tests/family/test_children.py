"""A legal representative attaches a minor's profile and acts for it (issue 9): through the
real views, services and database."""

from datetime import date

import pytest
from django.urls import reverse

from carnet.audit.models import Event
from carnet.documents.models import Document
from carnet.enrollment.models import ProvisionalCode, Space
from carnet.family.models import Link
from carnet.notifications.models import OutboxMessage
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import space_of

from .conftest import make_child

ADD = reverse("family:add")
DECIDE = reverse("family:decide")
SWITCH = reverse("family:switch")


def fill(child, **overrides):
    values = {
        "code": child.code,
        "nir": child.person.nir,
        "birth_date": child.person.birth_date.strftime("%d/%m/%Y"),
    }
    values.update(overrides)
    return values


def attach(client, child, decision="activer", **overrides):
    response = client.post(ADD, fill(child, **overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response.url == DECIDE
    return client.post(DECIDE, {"decision": decision, "certified": "on"})


def test_a_minors_code_goes_to_the_first_legal_representative(alice, bob):
    child = make_child(alice.person, bob.person)
    sent = OutboxMessage.objects.filter(kind="code_provisoire", to=alice.person.email)
    [mail] = [message for message in sent if child.code in message.body]
    assert "Léa" in mail.body and "Ajouter un profil" in mail.body
    to_bob = OutboxMessage.objects.filter(kind="code_provisoire", to=bob.person.email)
    assert not [message for message in to_bob if child.code in message.body]
    code = ProvisionalCode.objects.get(person=child.person)
    assert code.channel == ProvisionalCode.Channel.EMAIL


def test_the_parent_activates_the_childs_space_and_it_is_linked(alice_client, alice, child):
    response = alice_client.post(ADD, fill(child))
    assert response.url == DECIDE
    page = alice_client.get(DECIDE).content.decode()
    assert "Je certifie être le représentant légal de Léa" in page
    response = alice_client.post(DECIDE, {"decision": "activer", "certified": "on"})
    assert response.url == reverse("family:index")
    space = space_of(child.person)
    assert space.state == Space.State.ACTIVE
    [link] = Link.objects.filter(space=space)
    assert (link.user, link.kind, link.ended_at) == (alice, Link.Kind.LEGAL_REPRESENTATIVE, None)
    assert ProvisionalCode.objects.get(person=child.person).used_at is not None
    # The child's trail names the representative as the actor.
    actors = set(
        Event.objects.filter(
            space_id=space.public_id, action__in=["espace_transition", "profil_rattache"]
        ).values_list("actor", "action")
    )
    assert actors == {(alice.actor, "espace_transition"), (alice.actor, "profil_rattache")}
    assert "Léa" in alice_client.get(reverse("family:index")).content.decode()


def test_the_cards_nir_identifies_the_child_too(alice_client, alice, child):
    attach(alice_client, child, nir=alice.person.nir)
    assert Link.objects.filter(space__person=child.person, user=alice).exists()


def test_twins_on_one_card_get_a_picker(alice_client, alice):
    born = date(2018, 6, 2)
    jade = make_child(alice.person, first_name="Jade", birth_date=born)
    make_child(alice.person, first_name="Lina", birth_date=born)
    response = alice_client.post(ADD, fill(jade, nir=alice.person.nir))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Jade" in page and "Lina" in page and 'name="child"' in page
    response = alice_client.post(
        ADD, {**fill(jade, nir=alice.person.nir), "child": str(jade.person.public_id)}
    )
    assert response.url == DECIDE
    alice_client.post(DECIDE, {"decision": "activer", "certified": "on"})
    assert [link.space.person for link in Link.objects.filter(user=alice)] == [jade.person]


def test_a_twins_code_does_not_attach_the_other_twin(alice_client, alice):
    born = date(2018, 6, 2)
    jade = make_child(alice.person, first_name="Jade", birth_date=born)
    lina = make_child(alice.person, first_name="Lina", birth_date=born)
    response = alice_client.post(
        ADD, {**fill(jade, nir=alice.person.nir), "child": str(lina.person.public_id)}
    )
    assert response.status_code == 200
    assert "ne permettent pas de rattacher" in response.content.decode()
    assert not Link.objects.exists()


@pytest.mark.parametrize(
    "case", ["not_a_representative", "wrong_code", "wrong_birth_date", "of_age"]
)
def test_refusals_say_one_thing_and_change_nothing(client, alice, bob, case):
    child = make_child(alice.person)
    if case == "of_age":
        child = make_child(alice.person, first_name="Emma", birth_date=date(2008, 1, 1))
    client.force_login(bob if case == "not_a_representative" else alice)
    overrides = {
        "wrong_code": {"code": "ABCDEFGH2345"},
        "wrong_birth_date": {"birth_date": "15/03/2015"},
    }.get(case, {})
    response = client.post(ADD, fill(child, **overrides))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ces informations ne permettent pas de rattacher ce profil." in page
    assert child.person.first_name not in page  # nothing revealed
    assert child.code not in page
    assert space_of(child.person).state == Space.State.PENDING
    assert ProvisionalCode.objects.get(person=child.person).used_at is None
    assert not Link.objects.exists()


def test_the_certification_is_required(alice_client, child):
    alice_client.post(ADD, fill(child))
    response = alice_client.post(DECIDE, {"decision": "activer"})
    assert response.status_code == 200
    assert "Cochez la case pour certifier" in response.content.decode()
    assert space_of(child.person).state == Space.State.PENDING
    assert not Link.objects.exists()


def test_the_parent_can_oppose_for_the_child(alice_client, alice, child):
    response = attach(alice_client, child, decision="opposer")
    assert response.status_code == 302
    assert space_of(child.person).state == Space.State.OPPOSED
    assert not Link.objects.exists()
    [event] = Event.objects.filter(
        space_id=space_of(child.person).public_id, action="espace_transition"
    )
    assert event.actor == alice.actor


def test_the_decision_step_needs_the_identification_first(alice_client):
    response = alice_client.get(DECIDE)
    assert response.status_code == 302 and response.url == ADD


# --- The profile switcher -------------------------------------------------------------------


@pytest.fixture
def linked(alice_client, alice, child):
    attach(alice_client, child)
    return space_of(child.person)


def test_acting_for_the_child_every_page_names_it_and_acts_on_its_space(
    alice_client, alice, linked
):
    response = alice_client.post(SWITCH, {"profil": str(linked.public_id)})
    assert response.status_code == 302
    home = alice_client.get("/").content.decode()
    assert "Vous agissez pour le profil de <strong>Léa MARTIN</strong>" in home
    response = alice_client.post(
        reverse("documents:add"),
        {
            "file": _upload(),
            "title": "Carnet de vaccination",
            "category": "CPT_REND",
            "document_date": "2026-11-02",
        },
    )
    assert response.status_code == 302
    [document] = Document.objects.filter(title="Carnet de vaccination")
    assert document.space == linked
    added = Event.objects.filter(space_id=linked.public_id, object_id=str(document.public_id))
    assert added.exists() and {e.actor for e in added} == {alice.actor}
    # Back to her own profile: her own documents, not Léa's.
    alice_client.post(SWITCH, {"profil": "moi"})
    alice_client.get("/")  # the pending messages are read
    page = alice_client.get(reverse("documents:index")).content.decode()
    assert "Carnet de vaccination" not in page and "acting-banner" not in page


def _upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("carnet.pdf", pdf_bytes(), content_type="application/pdf")


def test_switching_to_a_profile_not_linked_is_a_404(alice_client, bob):
    response = alice_client.post(SWITCH, {"profil": str(space_of(bob.person).public_id)})
    assert response.status_code == 404
    response = alice_client.post(SWITCH, {"profil": "pas-un-identifiant"})
    assert response.status_code == 404


def test_an_ended_link_sends_back_to_ones_own_profile_at_the_next_request(alice_client, linked):
    from carnet.core import clock

    alice_client.post(SWITCH, {"profil": str(linked.public_id)})
    alice_client.get("/")  # the switch's own message is read
    page = alice_client.get("/").content.decode()
    assert "acting-banner" in page  # still linked: still acting for Léa
    Link.objects.filter(space=linked).update(ended_at=clock.now())
    page = alice_client.get("/").content.decode()
    assert "acting-banner" not in page
    assert "Vous agissez de nouveau pour votre propre profil." in page
