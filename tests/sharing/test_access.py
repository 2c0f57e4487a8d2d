"""Who may make, see and revoke a share link: the holder, a legal representative acting for a
minor (never the minor's confidential documents), never a caregiver nor another account — a
404 like an id that does not exist, and refused by the services themselves."""

import html
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from carnet.family.models import Link
from carnet.sharing import services
from carnet.sharing.models import Share
from tests.enrollment.helpers import space_of
from tests.family.conftest import make_child
from tests.family.test_children import attach
from tests.family.test_confidential import SECRET_TITLE, pro_adds

from .conftest import CREATE, create, viewer

SWITCH = reverse("family:switch")
OWNER_PAGES = ("sharing:index", "sharing:create")


@pytest.fixture
def caregiver(alice_client, alice, bob):
    """Bob, Alice's caregiver, acting for her."""
    response = alice_client.post(reverse("family:caregiver_add"), {"nir": bob.person.nir})
    assert response.status_code == 302
    return Link.objects.get(user=bob, space=space_of(alice.person))


def test_a_caregiver_never_shares(client, bob, caregiver, docs):
    client.force_login(bob)
    client.post(SWITCH, {"profil": str(caregiver.space.public_id)})
    for name in OWNER_PAGES:
        assert client.get(reverse(name)).status_code == 404
    response, token = create(client, documents=[docs["irm"]])
    assert response.status_code == 404 and token is None
    documents = html.unescape(client.get(reverse("documents:index")).content.decode())
    assert "Compte rendu IRM" in documents and "Partager" not in documents
    with pytest.raises(PermissionDenied):  # refused by the service, not only the page
        services.share_create(
            user=bob,
            space=caregiver.space,
            label="Urgences",
            document_ids=[docs["irm"].public_id],
            include_synthesis=True,
            validity=timedelta(hours=24),
        )
    assert not Share.objects.exists()


def test_a_caregiver_cannot_see_or_revoke_the_holders_share(
    alice_client, client, bob, caregiver, docs
):
    _, token = create(alice_client, documents=[docs["irm"]])
    share = Share.objects.get()
    client.force_login(bob)
    client.post(SWITCH, {"profil": str(caregiver.space.public_id)})
    for name in ("sharing:detail", "sharing:revoke"):
        assert client.get(reverse(name, args=[share.public_id])).status_code == 404
    assert client.post(reverse("sharing:revoke", args=[share.public_id])).status_code == 404
    with pytest.raises(PermissionDenied):
        services.share_revoke(user=bob, share=share)
    share.refresh_from_db()
    assert share.revoked_at is None


def test_another_account_cannot_see_or_revoke_a_share(alice_client, client, bob, docs):
    _, token = create(alice_client, documents=[docs["irm"]])
    share = Share.objects.get()
    client.force_login(bob)
    for name in ("sharing:detail", "sharing:revoke"):
        missing = client.get(reverse(name, args=["00000000-0000-0000-0000-000000000001"]))
        found = client.get(reverse(name, args=[share.public_id]))
        assert found.status_code == missing.status_code == 404
    assert client.post(reverse("sharing:revoke", args=[share.public_id])).status_code == 404
    assert "Urgences Lyon" not in client.get(reverse("sharing:index")).content.decode()
    share.refresh_from_db()
    assert share.revoked_at is None
    assert client.get(viewer(token)).status_code == 200  # the link itself still serves


def test_anonymous_visitors_go_to_the_login_for_the_owners_pages(client):
    for name in OWNER_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith("/connexion/")


# --- A legal representative, acting for a minor -----------------------------------------


@pytest.fixture
def minor(alice_client, alice):
    """Léa, 11: Alice attaches her profile and acts for her; a doctor adds a confidential
    document and an ordinary one to Léa's space."""
    from tests.consent.conftest import authorise, make_professional

    child = make_child(alice.person)
    attach(alice_client, child)
    space = space_of(child.person)
    pro = make_professional()
    authorise(space, pro)
    secret = pro_adds(pro, space, SECRET_TITLE, confidential=True)
    shown = pro_adds(pro, space, "Vaccination ROR", confidential=False)
    alice_client.post(SWITCH, {"profil": str(space.public_id)})
    return space, secret, shown


def test_a_representative_shares_but_never_a_minors_confidential_document(
    alice_client, alice, stranger, minor
):
    space, secret, shown = minor
    page = alice_client.get(CREATE).content.decode()
    assert "Vaccination ROR" in page and SECRET_TITLE not in page  # not offered
    response = alice_client.post(
        CREATE,
        {
            "label": "Pédiatre de garde",
            "documents": [str(shown.public_id), str(secret.public_id)],
            "validity": "24h",
        },
    )
    assert response.status_code == 400  # a confidential id is not a choice of the list
    assert not Share.objects.exists()
    with pytest.raises(services.ShareError):  # nor of the service
        services.share_create(
            user=alice,
            space=space,
            label="x",
            document_ids=[secret.public_id],
            include_synthesis=False,
            validity=timedelta(hours=1),
        )
    _, token = create(alice_client, label="Pédiatre de garde", documents=[shown])
    share = Share.objects.get()
    assert share.space == space and share.by_representative
    # Even slipped into the share's rows afterwards, the confidential one never shows.
    share.documents.add(secret)
    seen = html.unescape(stranger.get(viewer(token)).content.decode())
    assert "Vaccination ROR" in seen and SECRET_TITLE not in seen
    url = reverse("sharing:document", args=[token, secret.public_id])
    assert stranger.get(url).status_code == 404


def test_a_representatives_share_stops_with_their_link(alice_client, alice, stranger, minor):
    from carnet.core import clock

    space, _, shown = minor
    _, token = create(alice_client, documents=[shown])
    assert stranger.get(viewer(token)).status_code == 200
    Link.objects.filter(user=alice, space=space).update(ended_at=clock.now())
    assert stranger.get(viewer(token)).status_code == 410
