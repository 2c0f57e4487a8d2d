"""The issue's journey on the data of `carnet seed_demo`, as a newcomer does it after `make run`:
demo.professionnel (Dr Claire DÉMO) logs in on /pro/connexion/ with the code of `carnet demo_totp`,
finds Marie-Noëlle DÉMO-ACTIVE (demo.patient) by INS and birth date, attests consent and adds a
document; the patient sees it, the notification in the outbox and the line in the history, and
blocks the professional, who is then refused. axe-core checks every page (the Tab helpers), and
`carnet audit verify` passes on the trail the journey leaves.

tests/e2e/test_professionals.py walks the same portal from an invitation, at both sizes and with
screenshots; this one stays on the demo accounts and the phone size, to stay short."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from carnet.enrollment.management.commands.seed_demo import (
    DEMO_PASSWORD_PATIENT,
    DEMO_PASSWORD_PRO,
    DEMO_PRO_IDENTIFIER,
)
from carnet.registry.models import InsuredPerson
from tests.documents.conftest import pdf_bytes

from . import steps

pytestmark = pytest.mark.e2e

PRO_NAME = "Claire DÉMO"
PRO_PLACE = "Cabinet médical DÉMO"
PATIENT = "demo.patient"
PATIENT_EMAIL = "marie.demo@exemple.fr"
PATIENT_PAGE = re.compile(r"/pro/patients/[0-9a-f-]{36}/$")
TITLE = "Compte rendu de consultation DÉMO"
NEW_PROFESSIONAL = "Un nouveau professionnel a accédé à votre dossier"
NEW_DOCUMENT = "Vous avez reçu un nouveau document"
NOT_FOUND = "Aucun dossier accessible avec ces informations."


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", stdout=StringIO())
    return InsuredPerson.objects.get(is_demo=True, last_name="DÉMO-ACTIVE")


def demo_totp() -> str:
    """What the newcomer without an authenticator app runs: `carnet demo_totp`."""
    out = StringIO()
    call_command("demo_totp", stdout=out)
    return out.getvalue().splitlines()[0]


def notice(page):
    return page.get_by_role("status").filter(has=page.locator(".notice"))


def search_patient(tab, person) -> None:
    """The portal's search: the INS (the NIR, spaced as on the card) and the birth date."""
    tab.expect_heading("Trouver un patient")
    tab.page.get_by_label("INS (numéro de sécurité sociale)").fill(steps.spaced_nir(person.nir))
    tab.page.get_by_label("Date de naissance").fill(person.birth_date.isoformat())
    tab.submit("Rechercher")


def test_demo_professional_journey_from_seed_demo(ui, other_ui, demo):
    person = demo
    tab, page = ui.tab, ui.tab.page

    # --- The demo professional logs in: password, then the authenticator's code -------------
    tab.visit("/pro/connexion/")
    steps.enter_password(tab, DEMO_PRO_IDENTIFIER, DEMO_PASSWORD_PRO)
    tab.expect_heading(steps.CODE_HEADING)
    expect(page.get_by_role("main")).to_contain_text("votre application d'authentification")
    steps.enter_code(tab, demo_totp())
    tab.expect_heading("Portail des professionnels de santé")
    expect(page.get_by_role("main")).to_contain_text(f"Bonjour {PRO_NAME}, médecin")

    # --- Finds the patient by INS and birth date, attests consent ---------------------------
    tab.follow("Trouver un patient")
    search_patient(tab, person)
    tab.expect_heading("Consentement du patient")
    expect(page.locator(".patient-identity")).to_contain_text("Marie-Noëlle DÉMO-ACTIVE")
    page.get_by_label("J'atteste avoir recueilli le consentement du patient").check()
    tab.submit("Accéder au dossier")
    tab.expect_heading("Dossier du patient")
    patient_url = page.url
    assert PATIENT_PAGE.search(patient_url)
    expect(notice(page)).to_have_text(
        "Votre attestation du consentement du patient est enregistrée."
    )

    # --- Adds a document --------------------------------------------------------------------
    tab.follow("Ajouter un document")
    tab.expect_heading("Ajouter un document au dossier")
    page.get_by_label("Choisir un fichier").set_input_files(
        files=[
            {
                "name": f"{TITLE}.pdf",
                "mimeType": "application/pdf",
                "buffer": pdf_bytes("Consultation de démonstration"),
            }
        ]
    )
    page.get_by_label("Catégorie").select_option(label="Comptes rendus")
    page.get_by_label("Date du document").fill("2026-01-15")
    page.get_by_role("button", name="Ajouter le document").click()  # sent by XMLHttpRequest
    page.wait_for_url(patient_url)
    tab.audit()
    expect(notice(page)).to_have_text(f"Le document « {TITLE} » a été ajouté au dossier.")
    expect(page.locator(".document-row").filter(has_text=TITLE)).to_contain_text(
        f"{PRO_NAME}, {PRO_PLACE}"
    )

    # --- The record's other sections, each its own page: vaccinations, circle, synthesis ------
    nav = page.get_by_role("navigation", name="Rubriques du dossier du patient")
    for section in ("Vaccinations", "Entourage et volontés", "Synthèse enregistrée"):
        tab._navigate_by(nav.get_by_role("link", name=section, exact=True))
        tab.expect_heading("Dossier du patient")
        expect(nav.get_by_role("link", name=section, exact=True)).to_have_attribute(
            "aria-current", "page"
        )
    tab._navigate_by(nav.get_by_role("link", name="Documents", exact=True))

    # --- The patient (demo account) sees it, the notification, the history line -------------
    mine = other_ui.tab
    steps.log_in(other_ui, PATIENT, DEMO_PASSWORD_PATIENT, email=PATIENT_EMAIL)
    mine.expect_heading("Bienvenue Marie-Noëlle")
    mine.visit("/documents/")
    mine.expect_heading("Mes documents")
    expect(mine.page.locator(".document-row").filter(has_text=TITLE)).to_contain_text(
        f"{PRO_NAME}, {PRO_PLACE}"
    )
    mine.follow(TITLE)
    mine.expect_heading(TITLE)

    for subject in (NEW_PROFESSIONAL, NEW_DOCUMENT):
        body = other_ui.read_outbox(to=PATIENT_EMAIL, subject=subject, pattern=r"(Bonjour,[\s\S]*)")
        assert PRO_NAME not in body and TITLE not in body  # never the content

    mine.visit("/historique/")
    mine.expect_heading("Historique d'activité")
    by_pro = mine.page.locator("table tbody tr").filter(has_text=PRO_NAME)
    expect(
        by_pro.filter(has_text="Premier accès d'un professionnel (consentement attesté)")
    ).to_have_count(1)
    expect(by_pro.filter(has_text="Ajout d'un document").filter(has_text=TITLE)).to_have_count(1)
    expect(by_pro.filter(has_text="vaccinations")).to_have_count(1)

    # --- The patient blocks the professional ------------------------------------------------
    mine.visit("/parametres/acces/")
    mine.expect_heading("Accès à mon dossier")
    card = mine.page.locator(".card").filter(
        has=mine.page.get_by_role("heading", name=PRO_NAME, exact=True)
    )
    with mine.page.expect_navigation():
        card.get_by_role("link", name="Bloquer", exact=True).click()
    mine.audit()
    mine.expect_heading(f"Bloquer {PRO_NAME} ?")
    mine.submit("Bloquer ce professionnel")
    mine.expect_heading("Accès à mon dossier")
    expect(card.locator(".badge")).to_have_text(["Bloqué"])

    # --- The professional is refused: the search finds nobody, the record is a 404 ----------
    tab.follow("Trouver un patient")
    search_patient(tab, person)
    tab.expect_heading("Trouver un patient")
    expect(page.get_by_role("alert").get_by_role("heading", level=2)).to_have_text(NOT_FOUND)
    response = page.goto(patient_url)
    tab.audit()
    assert response.status == 404
    tab.expect_heading("Page introuvable")
    expect(page.get_by_role("main")).not_to_contain_text(person.last_name)

    # --- The trail the journey left is intact -----------------------------------------------
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "trace d'audit intègre" in out.getvalue()
