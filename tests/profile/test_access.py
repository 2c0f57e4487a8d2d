"""Only the owner reads and writes the profile: another person's entry is a 404 exactly like
an id that does not exist; visitors go to the login; professionals to their portal; a closed
space has no profile."""

import re
import uuid

import pytest
from django.test import Client

from carnet.enrollment import services as enrollment
from carnet.profile.sections import SECTIONS
from tests.enrollment.helpers import space_of

from .test_forms import VALID, url

SLUGS = list(SECTIONS)
LISTED = [slug for slug, section in SECTIONS.items() if not section.single]


@pytest.fixture
def bob_entries(bob):
    """One entry of Bob's in every section, added through his own forms."""
    client = Client()
    client.force_login(bob)
    found = {}
    for slug in SLUGS:
        response = client.post(url(slug), VALID[slug])
        assert response.status_code == 302, slug
        found[slug] = SECTIONS[slug].model.objects.get()
    return found


def _page(response) -> str:
    """The page without its per-response CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def _snapshot(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("action", ["modifier", "supprimer"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_space_entry_is_a_404_like_a_random_id(
    alice_client, bob_entries, slug, action, method
):
    theirs = bob_entries[slug]
    before = _snapshot(theirs)
    send = getattr(alice_client, method)
    data = VALID[slug] if action == "modifier" else {}
    foreign = send(f"/profil-medical/{slug}/{theirs.public_id}/{action}/", data)
    missing = send(f"/profil-medical/{slug}/{uuid.uuid4()}/{action}/", data)
    assert foreign.status_code == missing.status_code == 404
    assert _page(foreign) == _page(missing)
    theirs.refresh_from_db()
    assert _snapshot(theirs) == before  # neither changed nor deleted
    assert SECTIONS[slug].model.objects.count() == 1  # and nothing written for Alice


@pytest.mark.parametrize("slug", LISTED)
def test_another_space_entries_are_not_listed(alice_client, bob_entries, slug):
    html = alice_client.get(f"/profil-medical/{slug}/").content.decode()
    assert str(bob_entries[slug].public_id) not in html
    assert "Rien n'est encore renseigné." in html
    overview = alice_client.get("/profil-medical/").context["overview"]
    assert all(count == 0 for _, count in overview)


def test_the_single_forms_show_only_ones_own_data(alice_client, bob_entries):
    html = alice_client.get("/profil-medical/entourage/modifier/").content.decode()
    assert "Paul Martin" not in html and "06 12 34 56 78" not in html


def test_an_entry_is_reached_only_through_its_own_section(alice_client):
    assert alice_client.post(url("maladies"), VALID["maladies"]).status_code == 302
    mine = SECTIONS["maladies"].model.objects.get()
    assert (
        alice_client.get(f"/profil-medical/maladies/{mine.public_id}/modifier/").status_code == 200
    )
    for path in (
        f"/profil-medical/traitements/{mine.public_id}/modifier/",
        f"/profil-medical/traitements/{mine.public_id}/supprimer/",
        f"/profil-medical/inconnu/{mine.public_id}/modifier/",
        "/profil-medical/inconnu/",
        "/profil-medical/inconnu/ajouter/",
        "/profil-medical/maladies/modifier/",  # not a single section
    ):
        assert alice_client.get(path).status_code == 404, path


def _pages(entry_id):
    pages = ["/profil-medical/", "/profil-medical/synthese.pdf"]
    for slug in SLUGS:
        pages += [f"/profil-medical/{slug}/", url(slug)]
        pages += [f"/profil-medical/{slug}/{entry_id}/{a}/" for a in ("modifier", "supprimer")]
    return pages


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_login(client, bob_entries):
    for path in _pages(bob_entries["maladies"].public_id):
        for response in (client.get(path), client.post(path, VALID["maladies"])):
            assert response.status_code == 302, path
            assert response.url.startswith("/connexion/?next=/profil-medical/"), path
    assert SECTIONS["maladies"].model.objects.filter(deleted_at__isnull=True).count() == 1


def test_a_professional_is_sent_back_to_their_portal(client, professional, bob_entries):
    client.force_login(professional)
    for path in _pages(bob_entries["maladies"].public_id):
        response = client.get(path)
        assert response.status_code == 302 and response.url == "/pro/", path
        assert client.post(path, VALID["maladies"]).status_code == 403, path
    assert SECTIONS["maladies"].model.objects.filter(deleted_at__isnull=True).count() == 1


def test_a_closed_space_has_no_profile(alice_client, alice):
    assert alice_client.post(url("maladies"), VALID["maladies"]).status_code == 302
    mine = SECTIONS["maladies"].model.objects.get()
    space = space_of(alice.person)
    enrollment.space_close(space=space, actor=alice.actor, confirmed=True)
    for path in _pages(mine.public_id):
        if path.endswith(("/groupe-sanguin/", "/habitudes-de-vie/", "/entourage/")):
            continue  # redirects to the single form, which is the 404
        assert alice_client.get(path).status_code == 404, path
        assert alice_client.post(path, VALID["maladies"]).status_code in (404, 405), path
    mine.refresh_from_db()
    assert mine.deleted_at is None
    assert SECTIONS["maladies"].model.objects.count() == 1


def test_an_empty_single_section_form_saves_nothing(alice_client):
    from carnet.profile.models import Circle, Lifestyle

    for slug, blank in (("habitudes-de-vie", {"tobacco": ""}), ("entourage", {"trusted_name": ""})):
        response = alice_client.post(f"/profil-medical/{slug}/modifier/", blank)
        assert response.status_code == 302
    assert not Lifestyle.objects.exists() and not Circle.objects.exists()
