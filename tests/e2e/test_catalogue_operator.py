"""An operator references an app in the browser, gives it a logo and puts it online; the
patient's catalogue then offers it, logo included. axe-core checks every page (the operator's
home, the catalogue's list, the referencing form, the client's credentials, the entry's page,
the patient's catalogue and the entry there)."""

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.catalogue.models import App
from tests.enrollment.helpers import PASSWORD, activate

from . import steps

pytestmark = pytest.mark.e2e

OPERATOR_EMAIL = "catalogue@exemple.fr"
ALICE_EMAIL = "alice.martin@exemple.fr"
NAME = "Vaccins Faciles"


@pytest.fixture
def operator(transactional_db):
    return User.objects.create_user(
        "operateur.catalogue",
        PASSWORD,
        kind=User.Kind.OPERATOR,
        email=OPERATOR_EMAIL,
        email_verified=True,
    )


@pytest.fixture
def alice(issue_code):
    return activate(issue_code(first_name="Alice", email=ALICE_EMAIL), identifier="alice.martin")


def logo_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (900, 900), (20, 110, 180)).save(out, format="PNG")
    return out.getvalue()


def test_an_operator_references_an_app_that_patients_then_find(ui, other_ui, operator, alice):
    tab = ui.tab
    steps.log_in(
        ui, "operateur.catalogue", PASSWORD, email=OPERATOR_EMAIL, start="/operateur/connexion/"
    )
    tab.expect_heading("Espace opérateur")
    tab.follow("Catalogue des services")
    tab.expect_heading("Catalogue des services")
    tab.follow("Référencer un service")
    tab.expect_heading("Référencer un service")

    page = tab.page
    page.get_by_label("Nom du service").fill(NAME)
    page.get_by_label("Éditeur").fill("Prévention & Cie")
    page.get_by_label("Description").fill("Vos vaccinations et vos rappels, au bon moment.")
    page.get_by_label("Catégorie").select_option(label="Prévention")
    page.get_by_label("Données autorisées").fill("launch/patient openid patient/Immunization.rs")
    tab.submit("Référencer le service")  # no return address: refused next to the field
    steps.expect_field_error(
        tab, "Adresses de retour", "Une application a au moins une adresse de retour.", exact=False
    )
    page.get_by_label("Adresses de retour").fill("https://vaccins-faciles.exemple.fr/retour")
    page.get_by_label("Client confidentiel").check()
    tab.submit("Référencer le service")
    tab.expect_heading(f"« {NAME} » est référencé")
    expect(page.get_by_role("main")).to_contain_text("il ne sera plus jamais affiché")
    app = App.objects.get(name=NAME)
    expect(page.get_by_role("main")).to_contain_text(app.client_id)
    tab.snap("operateur-catalogue-reference")

    tab.follow("Continuer vers la fiche du service")
    tab.expect_heading(NAME)
    page.get_by_label("Logo").set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": logo_png()}
    )
    tab.submit("Déposer le logo")
    expect(page.get_by_role("status")).to_contain_text("Le logo est enregistré.")
    expect(page.get_by_role("img", name=f"Logo actuel de {NAME}")).to_be_visible()

    page.get_by_label("Nouveau statut").select_option(label="En ligne")
    tab.submit("Changer le statut")
    expect(page.get_by_role("status")).to_contain_text(f"« {NAME} » est maintenant « en ligne »")
    tab.snap("operateur-catalogue-fiche")
    tab.follow("Catalogue des services")
    expect(page.get_by_role("main")).to_contain_text("En ligne")
    app.refresh_from_db()
    assert app.status == App.Status.ONLINE and app.logo
    actions = set(Event.objects.filter(actor=operator.actor).values_list("action", flat=True))
    assert {"catalogue_ajout", "catalogue_logo", "catalogue_statut"} <= actions

    # Alice, on her phone, finds it in the catalogue
    patient = other_ui.tab
    steps.log_in(other_ui, "alice.martin", PASSWORD, email=ALICE_EMAIL)
    patient.visit("/catalogue/")
    expect(patient.page.get_by_role("main")).to_contain_text(NAME)
    patient.follow(NAME)
    expect(patient.page.get_by_role("heading", level=1)).to_contain_text(NAME)
    logo = patient.page.get_by_role("main").locator("h1 img")
    expect(logo).to_be_visible()
    assert logo.evaluate("img => img.naturalWidth") == 512
    patient.snap("catalogue-service-reference")
