"""Linked profiles in Chromium, on the demo family of `carnet seed_demo`: Julie (demo.parent)
reads the provisional code of her daughter Léa in the demo outbox, attaches Léa's profile from
the account menu, acts for her (the banner names Léa on every page), adds a document and a
vaccination to Léa's space, then invites Karim, the second legal representative, who logs in,
accepts the invitation and acts for Léa too. axe-core checks every page (the Tab helpers)."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from carnet.documents.models import Document
from carnet.enrollment import services
from carnet.enrollment.management.commands.seed_demo import DEMO_PASSWORD_PATIENT
from carnet.enrollment.models import Space
from carnet.family.models import Link
from carnet.profile.models import Vaccination
from carnet.registry.models import InsuredPerson
from tests.documents.conftest import pdf_bytes
from tests.enrollment import helpers

from . import steps

pytestmark = pytest.mark.e2e

PARENT1 = "demo.parent"
PARENT1_EMAIL = "julie.demo@exemple.fr"
PARENT2 = "demo.parent2"
PARENT2_EMAIL = "karim.demo@exemple.fr"
CHILD_CODE_SUBJECT = "Le code provisoire de l'espace santé de Léa"
CHILD_CODE_PATTERN = r"Le code provisoire confidentiel de Léa : ([0-9A-Za-z]{12})"
LEA = "Léa DÉMO-FAMILLE"
DOCUMENT_PAGE = re.compile(r"/documents/[0-9a-f-]{36}/$")
TITLE = "Carnet de santé de Léa"


@pytest.fixture
def family(transactional_db):
    """The demo data; Karim (parent2) has only a provisional code there: he activates his own
    space through the real enrollment services, with the code the outbox holds for him."""
    call_command("seed_demo", stdout=StringIO())
    people = InsuredPerson.objects.filter(is_demo=True, last_name="DÉMO-FAMILLE")
    persons = {p.first_name: p for p in people}
    karim = persons["Karim"]
    code = helpers.code_in(helpers.last_message(karim.email, "code_provisoire"))
    user = services.space_activate(
        identified=helpers.identify(karim, code),
        credentials=helpers.credentials(karim, PARENT2, password=DEMO_PASSWORD_PATIENT),
        client=helpers.CLIENT,
    )
    assert user.identifier == PARENT2
    return persons


def expect_acting_for(tab, name: str) -> None:
    """The banner at the top of every page names the profile one acts for."""
    banner = tab.page.get_by_role("note").filter(has_text="Vous agissez pour le profil de")
    expect(banner).to_have_text(re.compile(rf"Vous agissez pour le profil de\s+{name}\."))


def notice(page):
    return page.get_by_role("status").filter(has=page.locator(".notice"))


def open_account_menu(tab) -> None:
    """The account menu of the header, opened with the keyboard."""
    summary = tab.page.locator("details.account-menu > summary")
    summary.focus()
    tab.page.keyboard.press("Enter")
    expect(tab.page.locator("details.account-menu")).to_have_attribute("open", "")


def press_in_menu(tab, control) -> None:
    """Focus a link or button of the open account menu and press Enter, as with the keyboard."""
    control.focus()
    expect(control).to_be_focused()
    with tab.page.expect_navigation():
        tab.page.keyboard.press("Enter")
    tab.audit()


def go_to_linked_profiles(tab) -> None:
    open_account_menu(tab)
    menu = tab.page.locator("details.account-menu")
    press_in_menu(tab, menu.get_by_role("link", name="Profils rattachés", exact=True))
    tab.expect_heading("Profils rattachés")


def switch_in_menu(tab, label: str) -> None:
    """The switcher of the account menu: "Agir pour le profil de :" and the profile's name."""
    open_account_menu(tab)
    switcher = tab.page.locator("details.account-menu").get_by_role("list", name="Agir pour")
    press_in_menu(tab, switcher.get_by_role("button", name=label, exact=True))


def log_in_first_time(ui, identifier: str, email: str, first_name: str) -> None:
    steps.log_in(ui, identifier, DEMO_PASSWORD_PATIENT, email=email)
    ui.tab.expect_heading(f"Bienvenue {first_name}")
    ui.tab.follow("Plus tard, aller à l'accueil")
    ui.tab.expect_heading(f"Bonjour {first_name}")


def test_parent_attaches_child_acts_for_her_and_shares_with_the_other_parent(ui, family):
    tab, page = ui.tab, ui.tab.page
    lea, karim = family["Léa"], family["Karim"]
    lea_space = Space.objects.get(person=lea)

    # --- Julie logs in and reads Léa's code in the demo outbox -------------------------------
    log_in_first_time(ui, PARENT1, PARENT1_EMAIL, "Julie")
    code = ui.read_outbox(to=PARENT1_EMAIL, subject=CHILD_CODE_SUBJECT, pattern=CHILD_CODE_PATTERN)

    # --- Account menu → Profils rattachés → Ajouter un profil -------------------------------
    go_to_linked_profiles(tab)
    expect(page.get_by_role("main")).to_contain_text("Aucun profil n'est encore rattaché")
    tab.follow("Ajouter un profil")
    tab.expect_heading("Ajouter le profil d'un enfant")
    page.get_by_label("Code provisoire de l'enfant").fill(code)
    page.get_by_label("Numéro de sécurité sociale").fill(steps.spaced_nir(lea.nir))
    page.get_by_label("Date de naissance de l'enfant").fill(steps.birth(lea))
    tab.submit("Continuer")

    tab.expect_heading(f"L'espace santé de {LEA}")
    page.get_by_label("J'active son espace santé").check()
    page.get_by_label("Je certifie être le représentant légal de Léa").check()
    tab.submit("Valider ma décision")
    tab.expect_heading("Profils rattachés")
    expect(notice(page)).to_have_text("Le profil de Léa est rattaché à votre compte.")
    lea_space.refresh_from_db()
    assert lea_space.state == Space.State.ACTIVE
    link = Link.objects.get(space=lea_space, user__identifier=PARENT1, ended_at__isnull=True)

    # --- Acts for Léa ("Agir pour Léa" on /profils/) ----------------------------------------
    tab.submit("Agir pour Léa")
    expect(notice(page)).to_have_text("Vous agissez pour le profil de Léa.")
    expect_acting_for(tab, LEA)

    # --- A document in Léa's space ----------------------------------------------------------
    nav = page.get_by_role("navigation", name="Navigation principale")
    tab._navigate_by(nav.get_by_role("link", name="Documents", exact=True))
    tab.expect_heading("Mes documents")
    expect_acting_for(tab, LEA)
    tab.follow("Ajouter un document")
    tab.expect_heading("Ajouter un document")
    expect_acting_for(tab, LEA)
    page.get_by_label("Choisir un fichier").set_input_files(
        files=[
            {
                "name": f"{TITLE}.pdf",
                "mimeType": "application/pdf",
                "buffer": pdf_bytes("Vaccinations de Léa"),
            }
        ]
    )
    page.get_by_label("Catégorie").select_option(label="Comptes rendus")
    page.get_by_label("Date du document").fill("2026-01-15")
    page.get_by_role("button", name="Ajouter le document").click()  # sent by XMLHttpRequest
    page.wait_for_url(DOCUMENT_PAGE)
    tab.audit()
    tab.expect_heading(TITLE)
    expect(notice(page)).to_have_text(f"Le document « {TITLE} » a été ajouté.")
    expect_acting_for(tab, LEA)
    assert Document.objects.filter(space=lea_space, title=TITLE).exists()

    # --- A vaccination in Léa's medical profile --------------------------------------------
    tab._navigate_by(nav.get_by_role("link", name="Profil médical", exact=True))
    tab.expect_heading("Profil médical")
    expect_acting_for(tab, LEA)
    tab.follow("Ajouter : Vaccinations")
    tab.expect_heading("Ajouter : vaccinations")
    expect_acting_for(tab, LEA)
    page.get_by_label("Rechercher un vaccin dans la liste").fill("rougeo")
    expect(page.get_by_label("Vaccin", exact=True)).to_have_value("ror")
    page.get_by_label("Date de vaccination").fill("14/03/2017")
    tab.submit("Enregistrer")
    tab.expect_heading("Vaccinations")
    expect(page.get_by_role("main")).to_contain_text("Rougeole, oreillons, rubéole (ROR)")
    expect_acting_for(tab, LEA)
    assert Vaccination.objects.filter(space=lea_space, vaccine="ror").exists()

    # --- Invites Karim, the other legal representative --------------------------------------
    go_to_linked_profiles(tab)
    expect_acting_for(tab, LEA)
    tab.follow("Inviter l'autre représentant légal")
    assert page.url.endswith(f"/profils/{link.public_id}/inviter/")
    tab.expect_heading("Inviter l'autre représentant légal de Léa")
    expect_acting_for(tab, LEA)
    page.get_by_label("Numéro de sécurité sociale de l'autre représentant légal").fill(
        steps.spaced_nir(karim.nir)
    )
    tab.submit("Envoyer l'invitation")
    tab.expect_heading("Profils rattachés")
    expect(notice(page)).to_contain_text("L'invitation est envoyée.")
    steps.log_out(tab)  # by a click: the switcher's list no longer covers the menu's items

    # --- Karim logs in, accepts, and acts for Léa -------------------------------------------
    log_in_first_time(ui, PARENT2, PARENT2_EMAIL, "Karim")
    go_to_linked_profiles(tab)
    invitations = page.get_by_role("region", name="Invitations reçues")
    expect(invitations).to_contain_text("Julie DÉMO-FAMILLE vous invite à gérer avec lui ou elle")
    expect(invitations).to_contain_text(LEA)
    tab._navigate_by(invitations.get_by_role("button", name="Accepter", exact=True))
    tab.expect_heading("Profils rattachés")
    expect(notice(page)).to_have_text("Vous gérez maintenant le profil de Léa.")
    expect(page.get_by_role("heading", level=2, name=LEA)).to_be_visible()
    assert Link.objects.filter(space=lea_space, user__identifier=PARENT2, ended_at=None).exists()

    switch_in_menu(tab, "Léa D.")
    tab.expect_heading("Bonjour Karim")
    expect(notice(page)).to_have_text("Vous agissez pour le profil de Léa.")
    expect_acting_for(tab, LEA)
    tab._navigate_by(nav.get_by_role("link", name="Documents", exact=True))
    tab.expect_heading("Mes documents")
    expect_acting_for(tab, LEA)
    expect(page.get_by_role("main")).to_contain_text(TITLE)  # what Julie added, seen by Karim
