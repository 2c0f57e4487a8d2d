"""Caregivers (proches aidants, issue 9): the holder gives and revokes access; a caregiver
acts for the holder on profile, documents, messaging and agenda, never on sharing; limits;
the PDF attestation. Through the real views and services."""

import html

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from carnet.audit.models import Event
from carnet.consent.services import block_set
from carnet.documents.models import Document
from carnet.family.models import Link
from carnet.notifications.models import OutboxMessage
from tests.consent.conftest import make_professional
from tests.enrollment.helpers import activate, space_of

from .test_children import _upload

ADD = reverse("family:caregiver_add")
SWITCH = reverse("family:switch")


def add(client, person):
    return client.post(ADD, {"nir": person.nir})


@pytest.fixture
def bob_cares_for_alice(alice_client, alice, bob):
    response = add(alice_client, bob.person)
    assert response.status_code == 302, response.content.decode()[:3000]
    return Link.objects.get(user=bob, space=space_of(alice.person))


def test_the_caregiver_acts_for_the_holder(client, alice, bob, bob_cares_for_alice):
    link = bob_cares_for_alice
    assert link.kind == Link.Kind.CAREGIVER
    notice = OutboxMessage.objects.get(kind="aidant_ajoute")
    assert notice.to == bob.email and alice.person.first_name not in notice.body
    client.force_login(bob)
    space = link.space
    assert client.post(SWITCH, {"profil": str(space.public_id)}).status_code == 302
    assert "Vous agissez pour le profil de" in client.get("/").content.decode()
    response = client.post(
        reverse("documents:add"),
        {
            "file": _upload(),
            "title": "Ordonnance",
            "category": "CPT_REND",
            "document_date": "2026-11-02",
        },
    )
    assert response.status_code == 302
    document = Document.objects.get(title="Ordonnance")
    assert document.space == space
    events = Event.objects.filter(space_id=space.public_id, object_id=str(document.public_id))
    assert {event.actor for event in events} == {bob.actor}


def test_a_caregiver_never_manages_sharing(client, bob, bob_cares_for_alice):
    space = bob_cares_for_alice.space
    client.force_login(bob)
    client.post(SWITCH, {"profil": str(space.public_id)})
    assert client.get(reverse("consent:index")).status_code == 404
    with pytest.raises(PermissionDenied):  # refused by the service, not only the page
        block_set(user=bob, space=space, professional=make_professional(), blocked=True)
    # Settings are his own account's, never the holder's.
    page = client.get(reverse("parametres:index")).content.decode()
    assert bob.identifier in page or "Paramètres" in page


def test_revoking_ends_access_at_the_next_request(alice_client, bob, bob_cares_for_alice):
    space = bob_cares_for_alice.space
    client = Client()  # Bob's browser; Alice keeps hers
    client.force_login(bob)
    client.post(SWITCH, {"profil": str(space.public_id)})
    client.get("/")
    revoke = reverse("family:caregiver_revoke", args=[bob_cares_for_alice.public_id])
    assert alice_client.post(revoke).status_code == 302
    page = client.get("/").content.decode()
    assert "acting-banner" not in page
    assert client.post(SWITCH, {"profil": str(space.public_id)}).status_code == 404
    assert Link.objects.get(pk=bob_cares_for_alice.pk).ended_reason == "revocation"


def test_the_attestation_is_a_pdf_for_the_holder_only(
    alice_client, client, bob, bob_cares_for_alice
):
    url = reverse("family:caregiver_certificate", args=[bob_cares_for_alice.public_id])
    response = alice_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    client.force_login(bob)
    assert client.get(url).status_code == 404


def _patients(issue_code, count, prefix):
    return [
        activate(
            issue_code(first_name=f"{prefix}{n}", email=f"{prefix}{n}@exemple.fr"), f"{prefix}.{n}"
        )
        for n in range(count)
    ]


def test_at_most_three_caregivers(alice_client, issue_code):
    helpers = _patients(issue_code, 4, "aidant")
    for person in helpers[:3]:
        assert add(alice_client, person.person).status_code == 302
    response = add(alice_client, helpers[3].person)
    assert "Vous avez déjà 3 aidants" in response.content.decode()
    assert Link.objects.filter(kind=Link.Kind.CAREGIVER).count() == 3


def test_a_caregiver_follows_at_most_five_people(client, bob, issue_code):
    holders = _patients(issue_code, 6, "titulaire")
    for holder in holders[:5]:
        client.force_login(holder)
        assert add(client, bob.person).status_code == 302
    client.force_login(holders[5])
    response = add(client, bob.person)
    assert "déjà l'aidant de 5 personnes" in html.unescape(response.content.decode())


@pytest.mark.parametrize("who", ["self", "no_account"])
def test_a_caregiver_must_be_someone_else_with_an_account(alice_client, alice, who):
    nir = alice.person.nir if who == "self" else "2 85 03 75 112 123 45"
    response = alice_client.post(ADD, {"nir": nir})
    assert response.status_code == 200
    assert not Link.objects.exists()


def test_the_caregiver_is_told_of_a_new_message_too(alice, bob, bob_cares_for_alice):
    from tests.messaging.conftest import authorise as authorise_pro
    from tests.messaging.conftest import make_professional as make_pro
    from tests.messaging.conftest import pro_writes

    space = bob_cares_for_alice.space
    pro = make_pro()
    authorise_pro(space, pro)
    pro_writes(pro, space)
    recipients = set(
        OutboxMessage.objects.filter(kind="nouveau_message").values_list("to", flat=True)
    )
    assert recipients == {alice.email, bob.email}


def test_only_the_holder_closes_or_deletes_the_space(alice, bob, bob_cares_for_alice):
    from carnet.enrollment import services as enrollment

    space = bob_cares_for_alice.space
    for attempt in (
        lambda: enrollment.space_close(space=space, actor=bob.actor, confirmed=True),
        lambda: enrollment.space_request_deletion(space=space, actor=bob.actor),
    ):
        with pytest.raises(enrollment.TransitionError, match="Seul le titulaire"):
            attempt()
    space.refresh_from_db()
    assert space.state == space.State.ACTIVE
    enrollment.space_close(space=space, actor=alice.actor, confirmed=True)  # hers to close
    space.refresh_from_db()
    assert space.state == space.State.CLOSED
