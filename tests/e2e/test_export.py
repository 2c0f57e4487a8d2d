"""« Télécharger mes données » in Chromium: a patient with a document asks for the export from
the settings, sees it ready (the live server runs tasks at once), confirms her identity
(password, then a code) and downloads the ZIP, which the test opens: the document as she gave
it, and the profile as a FHIR R4B Bundle. Every page is checked by axe-core."""

import hashlib
import re
import zipfile

import pytest
from fhir.resources.R4B.bundle import Bundle
from playwright.sync_api import expect

from carnet.enrollment.selectors import own_space
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import PASSWORD, activate
from tests.exports.conftest import add_document

from . import steps

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"
DOCUMENT = pdf_bytes("Compte rendu de cardiologie")
READY_SUBJECT = "Votre export de données est prêt"
ZIP_LINK = re.compile(r"^Télécharger le fichier ZIP \(")


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email=EMAIL, mobile="+33612345678")
    return activate(issued, identifier="alice.martin")


@pytest.fixture
def document(alice):
    return add_document(alice, own_space(alice), "Compte rendu cardiologie", "cr.pdf", DOCUMENT)


def test_ask_for_the_export_confirm_identity_and_download_the_zip(ui, alice, document, tmp_path):
    tab, page = ui.tab, ui.page
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    tab.follow("Plus tard, aller à l'accueil")
    tab.expect_heading("Bonjour Alice")

    page.locator("details.account-menu > summary").click()
    tab.follow("Paramètres")
    tab.expect_heading("Paramètres")
    tab.follow("Télécharger mes données")
    tab.expect_heading("Télécharger mes données")
    tab.follow("Demander un export de mes données")
    tab.expect_heading("Demander un export de mes données")
    expect(page.get_by_role("checkbox", name=re.compile("^Alice"))).to_be_checked()
    tab.snap("export-demande")
    tab.submit("Demander l'export")

    # Built as soon as the request committed: ready on the page it leads back to.
    tab.expect_heading("Télécharger mes données")
    expect(page.get_by_role("status")).to_contain_text("Votre demande est enregistrée")
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", level=3))
    expect(card).to_contain_text("Prête")
    expect(card).to_contain_text(f"{alice.person.first_name} {alice.person.last_name}")
    tab.snap("export-pret")
    ui.read_outbox(to=EMAIL, subject=READY_SUBJECT, pattern=r"(/export/)")

    # The download asks for a fresh confirmation of her identity, then comes back here.
    tab.follow(page.get_by_role("link", name=ZIP_LINK).inner_text())
    tab.expect_heading("Je confirme mon identité")
    expect(page.get_by_role("status")).to_contain_text("confirmez votre identité")
    page.get_by_label("Mon mot de passe").fill(PASSWORD)
    page.get_by_label("Par e-mail").check()
    tab.submit("Recevoir mon code")
    tab.expect_heading("Je saisis le code de confirmation")
    page.get_by_label("Code de vérification").fill(steps.read_access_code(ui, email=EMAIL))
    tab.submit("Valider")
    tab.expect_heading("Télécharger mes données")

    with page.expect_download() as started:
        page.get_by_role("link", name=ZIP_LINK).click()
    download = started.value
    assert download.failure() is None
    assert re.fullmatch(r"carnet-export-\d{4}-\d{2}-\d{2}\.zip", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        folder = f"{alice.person.first_name} {alice.person.last_name}"
        [name] = [n for n in archive.namelist() if n.startswith(f"{folder}/documents/")]
        assert name == f"{folder}/documents/2026-11-02 Compte rendu cardiologie.pdf"
        digest = hashlib.sha256(archive.read(name)).hexdigest()
        assert digest == hashlib.sha256(DOCUMENT).hexdigest() == document.blob.sha256
        bundle = Bundle.model_validate_json(archive.read(f"{folder}/profil.fhir.json"))
    assert bundle.type == "collection"
    assert any(entry.resource.get_resource_type() == "Patient" for entry in bundle.entry)
