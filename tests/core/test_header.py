"""The header of every page: the patient's menu and main navigation, with the current section
marked for screen readers (`aria-current`), and nothing of it for anyone else."""

import re

import pytest

pytestmark = pytest.mark.django_db

MAIN_NAV = re.compile(r'<nav aria-label="Navigation principale".*?</nav>', re.DOTALL)


def current_links(html: str) -> list[str]:
    return re.findall(r'<a href="[^"]*" aria-current="page">([^<]*)</a>', html)


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", "Accueil"),
        ("/profil-medical/", "Profil médical"),
        ("/documents/", "Documents"),
        ("/documents/ajouter/", "Documents"),
        ("/messagerie/", "Messagerie"),
        ("/agenda/", "Agenda"),
        ("/catalogue/", "Catalogue"),
        ("/parametres/", None),
    ],
)
def test_a_patient_sees_the_section_of_the_page_marked(alice_client, alice, path, current):
    response = alice_client.get(path, secure=True)
    assert response.status_code == 200
    html = response.content.decode()
    nav = MAIN_NAV.search(html)[0]
    assert current_links(nav) == ([current] if current else [])
    assert "Se déconnecter" in html and f"Alice {alice.person.last_name[0]}." in html


def test_a_professional_has_the_account_menu_without_the_patients_navigation(client, professional):
    client.force_login(professional)
    html = client.get("/pro/", secure=True, follow=True).content.decode()
    assert "Se déconnecter" in html
    assert MAIN_NAV.search(html) is None
    assert "Profils rattachés" not in html


def test_a_visitor_sees_the_activation_link_marked_on_the_activation_pages(client):
    html = client.get("/activer/", secure=True, follow=True).content.decode()
    assert current_links(html) == ["Activer mon espace"]
    assert MAIN_NAV.search(html) is None and "Se déconnecter" not in html
    html = client.get("/connexion/", secure=True).content.decode()
    assert current_links(html) == []
