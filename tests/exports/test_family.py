"""Exports of linked profiles: a legal representative exports their own space and their
child's (without the minor's confidential documents); a caregiver never exports the space of
the person they help — refused by the service, a 404 from the page; an export whose link ended
is no longer downloadable."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from carnet.core import clock
from carnet.enrollment.selectors import own_space
from carnet.exports import selectors, services
from carnet.exports.models import Export
from carnet.family.models import Link
from carnet.notifications.models import OutboxMessage
from tests.accounts.helpers import page
from tests.consent.conftest import authorise, make_professional
from tests.enrollment.helpers import space_of
from tests.family.conftest import make_child
from tests.family.test_caregivers import add as add_caregiver
from tests.family.test_children import attach
from tests.family.test_confidential import SECRET_TITLE, pro_adds

from .conftest import INDEX, REQUEST, ask, download, latest, opened, reauthenticated, sha256

pytestmark = pytest.mark.django_db


@pytest.fixture
def child_space(alice_client, alice):
    """Léa, 11, whose space Alice activated: a confidential act and an ordinary document."""
    child = make_child(alice.person)
    attach(alice_client, child)
    space = space_of(child.person)
    pro = make_professional()
    authorise(space, pro)
    secret = pro_adds(pro, space, SECRET_TITLE, confidential=True)
    shown = pro_adds(pro, space, "Vaccination ROR", confidential=False)
    return space, secret, shown


def test_a_parent_exports_their_space_and_their_childs_without_its_confidential_acts(
    alice_client, alice, alice_space, alice_docs, child_space, django_capture_on_commit_callbacks
):
    space, secret, shown = child_space
    request_page = page(alice_client.get(REQUEST))
    assert "Léa MARTIN" in request_page and "invisibles aux représentants légaux" in request_page
    response = ask(alice_client, django_capture_on_commit_callbacks, [alice_space, space])
    assert response.status_code == 302
    export = latest(alice)
    assert export.status == Export.Status.READY
    reauthenticated(alice_client)
    archive = opened(download(alice_client, export))
    names = archive.namelist()
    own = f"{alice.person.first_name} {alice.person.last_name}"
    assert any(n.startswith(f"{own}/documents/") for n in names)
    child_documents = [n for n in names if n.startswith("Léa MARTIN/documents/")]
    assert child_documents == ["Léa MARTIN/documents/2026-11-02 Vaccination ROR.pdf"]
    assert sha256(archive.read(child_documents[0])) == shown.blob.sha256
    assert not [n for n in names if SECRET_TITLE in n]
    for name in names:  # not in the history, the FHIR profile or anywhere else either
        assert SECRET_TITLE.encode() not in archive.read(name), name
    for required in ("synthese.pdf", "profil.fhir.json", "agenda.ics", "historique.csv"):
        assert f"Léa MARTIN/{required}" in names
    # The download is in the trail of both spaces, as the parent's act.
    from carnet.audit.models import Event

    events = Event.objects.filter(action="export_telechargement")
    assert {e.space_id for e in events} == {alice_space.public_id, space.public_id}
    # The email names nobody.
    [mail] = OutboxMessage.objects.filter(kind="export_pret")
    assert "Léa" not in mail.body and SECRET_TITLE not in mail.body


def test_the_minor_is_not_in_the_export_of_someone_unrelated(bob, child_space):
    assert [s.person_id for s in selectors.exportable_spaces(bob)] == [bob.person_id]


def test_an_export_whose_link_ended_is_no_longer_downloadable(
    alice_client, alice, alice_space, child_space, django_capture_on_commit_callbacks
):
    space, _, _ = child_space
    ask(alice_client, django_capture_on_commit_callbacks, [alice_space, space])
    export = latest(alice)
    Link.objects.filter(space=space, user=alice).update(ended_at=clock.now())
    reauthenticated(alice_client)
    url = reverse("exports:download", args=[export.public_id])
    assert alice_client.get(url).status_code == 404
    assert url not in page(alice_client.get(INDEX))


@pytest.fixture
def bob_cares_for_alice(alice_client, alice, bob):
    response = add_caregiver(alice_client, bob.person)
    assert response.status_code == 302
    link = Link.objects.get(user=bob, space=own_space(alice))
    assert link.kind == Link.Kind.CAREGIVER
    return link


def test_a_caregiver_cannot_export_the_space_they_help_with(
    bob, bob_cares_for_alice, django_capture_on_commit_callbacks
):
    holder_space = bob_cares_for_alice.space
    # Refused by the service itself, not only left out of the page.
    with pytest.raises(PermissionDenied):
        services.export_request(user=bob, spaces=[holder_space])
    with pytest.raises(PermissionDenied):
        services.export_request(user=bob, spaces=[own_space(bob), holder_space])
    assert [s.pk for s in selectors.exportable_spaces(bob)] == [own_space(bob).pk]

    client = Client()
    client.force_login(bob)
    client.post(reverse("family:switch"), {"profil": str(holder_space.public_id)})
    request_page = page(client.get(REQUEST))
    assert holder_space.person.first_name not in request_page.split("<form")[-1]
    response = ask(client, django_capture_on_commit_callbacks, [holder_space])
    assert response.status_code == 404
    assert not Export.objects.exists()
    # His own space, yes.
    response = ask(client, django_capture_on_commit_callbacks, [own_space(bob)])
    assert response.status_code == 302
    assert list(latest(bob).spaces.all()) == [own_space(bob)]


def test_nobody_exports_a_space_that_is_not_theirs(alice, bob):
    with pytest.raises(PermissionDenied):
        services.export_request(user=alice, spaces=[own_space(bob)])
    professional = make_professional()
    with pytest.raises(PermissionDenied):
        services.export_request(user=professional.user, spaces=[own_space(alice)])
