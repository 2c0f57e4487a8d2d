"""A professional and a patient in Chromium: the professional, invited from the directory,
activates the account with a TOTP authenticator, logs in on the portal with password and code,
finds the patient by INS and birth date, attests consent and adds a PDF; the patient sees the
document, the notifications in the outbox and the lines of the history, and blocks the
professional, who is then refused like for a person that does not exist. Every page, the pro
portal included, is checked by axe-core at phone and desktop sizes."""

import re
from base64 import b32decode

import pytest
from django.core.management import call_command
from django_otp.oath import TOTP
from playwright.sync_api import expect

from carnet.documents.models import Document
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import PASSWORD, activate
from tests.professionals.conftest import row, rpps, write_csv

from . import steps
from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"
PRO_EMAIL = "claire.fictif1@exemple.fr"
PRO_NAME = "Claire FICTIF1"
PRO_ESTABLISHMENT = "Cabinet médical des Tilleuls"
PRO_IDENTIFIER = "dr.claire.fictif"
INVITATION_SUBJECT = "Activez votre compte sur le portail des professionnels de santé"
LINK_PATTERN = r"https?://[^/\s]+(/pro/activer/[A-Za-z0-9_-]+/)"
NEW_PROFESSIONAL = "Un nouveau professionnel a accédé à votre dossier"
NEW_DOCUMENT = "Vous avez reçu un nouveau document"
NOT_FOUND = "Aucun dossier accessible avec ces informations."
PATIENT_PAGE = re.compile(r"/pro/patients/[0-9a-f-]{36}/$")
TITLE = "Compte rendu de consultation"


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email=EMAIL, mobile="+33612345678")
    return activate(issued, identifier="alice.martin")


@pytest.fixture
def invited(transactional_db, tmp_path):
    """Dr Claire FICTIF1, médecin généraliste, imported into the directory and invited."""
    call_command("import_professionals", str(write_csv(tmp_path / "annuaire.csv", [row(1)])))
    call_command("invite_professional", rpps(1))
    return rpps(1)


class Authenticator:
    """The authenticator app, set up with the key shown on the activation page."""

    def __init__(self, secret: str):
        self.key = b32decode(re.sub(r"\s+", "", secret))
        self.last_step: int | None = None

    def code(self) -> str:
        """The code shown now; never one of a time step already used (django-otp refuses a code
        used twice): then the next step's code, which the server accepts within its tolerance
        of one step, instead of waiting for it."""
        totp = TOTP(self.key, step=30, t0=0, digits=6)
        if self.last_step is not None and totp.t() <= self.last_step:
            totp.drift = self.last_step + 1 - totp.t()
        self.last_step = totp.t()
        return f"{totp.token():06d}"


def both_sizes(tab, label: str) -> None:
    """axe-core at desktop size too (the helpers audit at phone size), then the screenshots."""
    tab.page.set_viewport_size(DESKTOP)
    tab.audit()
    tab.page.set_viewport_size(PHONE)
    tab.snap(label)


def notice(page):
    return page.get_by_role("status").filter(has=page.locator(".notice"))


def search_patient(tab, person) -> None:
    page = tab.page
    tab.expect_heading("Trouver un patient")
    page.get_by_label("INS (numéro de sécurité sociale)").fill(steps.spaced_nir(person.nir))
    page.get_by_label("Date de naissance").fill(person.birth_date.isoformat())  # type="date"
    tab.submit("Rechercher")


def test_professional_journey_consent_document_then_blocked(ui, other_ui, alice, invited):
    person = alice.person
    tab = ui.tab
    page = tab.page

    # --- The invitation: the link of the email, identifier and password -----------------------
    link = ui.read_outbox(to=PRO_EMAIL, subject=INVITATION_SUBJECT, pattern=LINK_PATTERN)
    tab.visit(link)
    tab.expect_heading("Activer mon compte professionnel")
    expect(page.get_by_text("Étape 1 sur 2")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(f"{PRO_NAME}, médecin")
    both_sizes(tab, "pro-activation-identifiants")
    page.get_by_label("Identifiant", exact=True).fill(PRO_IDENTIFIER)
    page.get_by_label("Mot de passe", exact=True).fill(steps.GOOD_PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(steps.GOOD_PASSWORD)
    tab.submit("Continuer")

    # --- The authenticator: the QR code, and the key typed by hand ----------------------------
    tab.expect_heading("Configurer mon application d'authentification")
    expect(page.get_by_text("Étape 2 sur 2")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("^Code QR de configuration"))).to_be_visible()
    secret = page.locator("#cle-secrete").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", secret), secret
    app = Authenticator(secret)
    both_sizes(tab, "pro-activation-authentificateur")
    page.get_by_label("Code affiché par l'application").fill(app.code())
    tab.submit("Activer mon compte")

    # --- Login on the portal: password, then the application's code (no email code) -----------
    tab.expect_heading(steps.LOGIN_HEADING)
    assert page.url.endswith("/pro/connexion/")
    expect(page.get_by_role("status")).to_contain_text("Votre compte professionnel est activé.")
    both_sizes(tab, "pro-connexion")
    steps.enter_password(tab, PRO_IDENTIFIER, steps.GOOD_PASSWORD)
    tab.expect_heading(steps.CODE_HEADING)
    expect(page.get_by_role("main")).to_contain_text(
        "Saisissez le code à 6 chiffres affiché par votre application d'authentification."
    )
    both_sizes(tab, "pro-connexion-code")
    steps.enter_code(tab, app.code())
    tab.expect_heading("Portail des professionnels de santé")
    assert page.url.endswith("/pro/")
    expect(page.get_by_role("main")).to_contain_text(f"Bonjour {PRO_NAME}, médecin")
    both_sizes(tab, "pro-portail")

    # --- Find the patient, attest consent -----------------------------------------------------
    tab.follow("Trouver un patient")
    both_sizes(tab, "pro-trouver-un-patient")
    search_patient(tab, person)
    tab.expect_heading("Consentement du patient")
    expect(page.locator(".patient-identity")).to_contain_text(
        f"{person.first_name} {person.last_name}"
    )
    both_sizes(tab, "pro-consentement")
    tab.submit("Accéder au dossier")  # not attested: refused next to the box
    steps.expect_field_error(
        tab,
        "J'atteste avoir recueilli le consentement du patient",
        "Cochez la case pour attester avoir recueilli le consentement du patient.",
    )
    both_sizes(tab, "pro-consentement-erreur")
    page.get_by_label("J'atteste avoir recueilli le consentement du patient").check()
    tab.submit("Accéder au dossier")
    tab.expect_heading("Dossier du patient")
    patient_url = page.url
    assert PATIENT_PAGE.search(patient_url)
    expect(notice(page)).to_have_text(
        "Votre attestation du consentement du patient est enregistrée."
    )
    expect(page.get_by_role("main")).to_contain_text(
        "Vous avez attesté le consentement du patient."
    )
    expect(page.locator(".empty-state")).to_contain_text("Aucun document de ce dossier")
    both_sizes(tab, "pro-dossier-vide")

    # --- Add a PDF to the record --------------------------------------------------------------
    tab.follow("Ajouter un document")
    tab.expect_heading("Ajouter un document au dossier")
    both_sizes(tab, "pro-ajout-formulaire")
    page.get_by_label("Choisir un fichier").set_input_files(
        files=[
            {
                "name": f"{TITLE}.pdf",
                "mimeType": "application/pdf",
                "buffer": pdf_bytes("Consultation du 14 mars"),
            }
        ]
    )
    page.get_by_label("Catégorie").select_option(label="Comptes rendus")
    page.get_by_label("Date du document").fill("2025-03-14")
    page.get_by_role("button", name="Ajouter le document").click()  # sent by XMLHttpRequest
    page.wait_for_url(patient_url)
    tab.audit()
    tab.expect_heading("Dossier du patient")
    expect(notice(page)).to_have_text(f"Le document « {TITLE} » a été ajouté au dossier.")
    document = page.locator(".document-row").filter(has_text=TITLE)
    expect(document).to_contain_text(f"{PRO_NAME}, {PRO_ESTABLISHMENT}")
    both_sizes(tab, "pro-dossier-document-ajoute")
    doc = Document.objects.get()
    assert (doc.title, doc.author_name, doc.author_establishment) == (
        TITLE,
        PRO_NAME,
        PRO_ESTABLISHMENT,
    )

    # --- The patient, on their own device: the document, the emails, the history --------------
    mine = other_ui.tab
    steps.log_in(other_ui, "alice.martin", PASSWORD, email=EMAIL)
    mine.expect_heading("Bienvenue Alice")
    mine.visit("/documents/")
    mine.expect_heading("Mes documents")
    listed = mine.page.locator(".document-row").filter(has_text=TITLE)
    expect(listed).to_contain_text(f"{PRO_NAME}, {PRO_ESTABLISHMENT}")
    both_sizes(mine, "patient-mes-documents")
    mine.follow(TITLE)
    mine.expect_heading(TITLE)
    expect(mine.page.get_by_role("main")).to_contain_text(f"{PRO_NAME}, {PRO_ESTABLISHMENT}")
    both_sizes(mine, "patient-document-du-professionnel")

    for subject in (NEW_PROFESSIONAL, NEW_DOCUMENT):
        body = other_ui.read_outbox(to=EMAIL, subject=subject, pattern=r"(Bonjour,[\s\S]*)")
        assert PRO_NAME not in body and TITLE not in body  # never the content

    mine.visit("/historique/")
    mine.expect_heading("Historique d'activité")
    tabs = mine.page.get_by_role("navigation", name="Onglets de l'historique")
    expect(tabs.get_by_role("link", name="Professionnels")).to_have_attribute(
        "aria-current", "page"
    )
    lines = mine.page.locator("table tbody tr")
    by_pro = lines.filter(has_text=PRO_NAME)
    expect(
        by_pro.filter(has_text="Premier accès d'un professionnel (consentement attesté)")
    ).to_have_count(1)
    # One line for the addition, naming the document.
    added = by_pro.filter(has_text="Ajout d'un document").filter(has_text=TITLE)
    expect(added).to_have_count(1)
    expect(added.first).to_contain_text("Portail")
    expect(lines.first).to_contain_text("Consultation de la liste des documents")  # newest first
    both_sizes(mine, "patient-historique-professionnels")

    # --- The patient blocks the professional --------------------------------------------------
    mine.visit("/parametres/acces/")
    mine.expect_heading("Accès à mon dossier")
    card = mine.page.locator(".card").filter(
        has=mine.page.get_by_role("heading", name=PRO_NAME, exact=True)
    )
    expect(card).to_contain_text(PRO_ESTABLISHMENT)
    both_sizes(mine, "patient-acces")
    with mine.page.expect_navigation():
        card.get_by_role("link", name="Bloquer", exact=True).click()
    mine.audit()
    mine.expect_heading(f"Bloquer {PRO_NAME} ?")
    both_sizes(mine, "patient-bloquer-confirmation")
    mine.submit("Bloquer ce professionnel")
    mine.expect_heading("Accès à mon dossier")
    expect(card.locator(".badge")).to_have_text(["Bloqué"])
    expect(card.get_by_role("button", name="Débloquer")).to_be_visible()
    both_sizes(mine, "patient-acces-bloque")

    # --- The professional is refused, as for a person who does not exist ----------------------
    tab.follow("Trouver un patient")
    search_patient(tab, person)
    tab.expect_heading("Trouver un patient")
    expect(page.get_by_role("alert").get_by_role("heading", level=2)).to_have_text(NOT_FOUND)
    expect(page.get_by_label("INS (numéro de sécurité sociale)")).to_have_value("")
    both_sizes(tab, "pro-recherche-refusee")
    response = page.goto(patient_url)
    tab.audit()
    assert response.status == 404
    tab.expect_heading("Page introuvable")
    expect(page.get_by_role("main")).not_to_contain_text(person.last_name)
    both_sizes(tab, "pro-dossier-introuvable")
