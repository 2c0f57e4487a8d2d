"""A share link in Chromium: Alice shares a document and her synthesis from « Mes documents »
(an empty name refused next to its field first), with a passcode; the link is shown once with
its QR code. A doctor without an account opens it in another browser, gives a wrong code then
the right one, downloads the document (the very bytes); Alice reads the opening on the share's
page, revokes it after a confirmation, and the doctor's next visit finds it gone. axe-core
checks every page of both browsers (the Tab helpers)."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from carnet.audit.models import Event
from carnet.documents.files import file_check
from carnet.documents.services import document_add
from carnet.enrollment.selectors import space_for_user
from carnet.sharing.models import Share
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import PASSWORD, activate

from . import steps

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"
PASSCODE = "soleil-42"
REPORT = pdf_bytes("Compte rendu IRM du genou")


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email=EMAIL, mobile="+33612345678")
    user = activate(issued, identifier="alice.martin")
    space = space_for_user(user)
    for title, data in (("Compte rendu IRM", REPORT), ("Bilan sanguin", pdf_bytes("Bilan"))):
        document_add(
            user=user,
            space=space,
            checked=file_check("document.pdf", data),
            title=title,
            category="CPT_REND",
            document_date=date(2026, 11, 2),
        )
    return user


def message(page):
    return page.get_by_role("status").filter(has=page.locator(".notice"))


def test_share_open_in_another_browser_then_revoke(ui, other_ui, alice):
    tab, page = ui.tab, ui.tab.page
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    nav = page.get_by_role("navigation", name="Navigation principale")
    with page.expect_navigation():
        nav.get_by_role("link", name="Documents", exact=True).click()
    tab.audit()
    tab.expect_heading("Mes documents")

    # --- « Partager »: the form, an error next to its field, then the link -----------------
    tab.follow("Partager")
    tab.expect_heading("Créer un lien de partage")
    page.get_by_label(re.compile("^Compte rendu IRM")).check()
    tab.submit("Créer le lien")
    steps.expect_field_error(tab, "Nom du partage", "Donnez un nom à ce partage.")
    expect(page.get_by_label(re.compile("^Compte rendu IRM"))).to_be_checked()
    tab.snap("partage-erreur")
    page.get_by_label("Nom du partage").fill("Urgences Lyon")
    page.get_by_label("Ma synthèse médicale (PDF, à jour à chaque ouverture)").check()
    page.get_by_label("Durée de validité du lien").select_option(label="3 jours")
    page.get_by_label("Code d'accès (facultatif)").fill(PASSCODE)
    tab.submit("Créer le lien")
    tab.expect_heading("Votre lien de partage")
    link = page.get_by_label("Lien de partage").input_value()
    path = re.search(r"/partage/v/[A-Za-z0-9_-]{43}/$", link)[0]
    expect(page.get_by_role("img", name=re.compile("^Code QR du lien de partage"))).to_be_visible()
    tab.snap("partage-cree")
    share = Share.objects.get()
    assert share.label == "Urgences Lyon" and share.include_synthesis and share.has_passcode

    # --- The doctor, without an account, in another browser --------------------------------
    doctor, seen = other_ui.tab, other_ui.tab.page
    response = seen.goto(doctor.base_url + path)
    doctor.audit()
    assert response.status == 200
    assert response.headers["x-robots-tag"] == "noindex, nofollow, noarchive"
    doctor.expect_heading("Documents de santé partagés")
    expect(seen.get_by_role("main")).not_to_contain_text("Compte rendu IRM")
    seen.get_by_label("Code d'accès").fill("lune-42")
    doctor.submit("Ouvrir le partage")
    steps.expect_field_error(doctor, "Code d'accès", "Ce code d'accès est incorrect.")
    doctor.snap("partage-code-refuse")
    seen.get_by_label("Code d'accès").fill(PASSCODE)
    doctor.submit("Ouvrir le partage")
    doctor.expect_heading(re.compile(r"^Documents de santé de Alice "))
    opened = seen.request.get(doctor.base_url + path)  # the same page, its headers read
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert opened.headers["x-robots-tag"] == "noindex, nofollow, noarchive"
    assert "no-store" in opened.headers["cache-control"]
    main = seen.get_by_role("main")
    expect(main).to_contain_text("Compte rendu IRM")
    expect(main).not_to_contain_text("Bilan sanguin")
    doctor.snap("partage-consulte")
    with seen.expect_download() as download:
        seen.get_by_role("link", name="Télécharger le document Compte rendu IRM").click()
    assert download.value.suggested_filename == "Compte rendu IRM.pdf"
    assert download.value.path().read_bytes() == REPORT
    with seen.expect_download() as synthesis:
        seen.get_by_role("link", name="Télécharger la synthèse médicale (PDF)").click()
    assert synthesis.value.path().read_bytes().startswith(b"%PDF")

    # --- Alice reads the openings, then revokes -----------------------------------------------
    tab.follow("Terminé : voir ce partage")
    tab.expect_heading("Lien de partage « Urgences Lyon »")
    table = page.get_by_role("table")
    expect(table).to_contain_text("Ouverture d'un lien de partage")
    expect(table).to_contain_text("Téléchargement d'un document")
    expect(table).to_contain_text("Code d'accès d'un lien de partage refusé")
    tab.snap("partage-detail")
    tab.follow("Révoquer ce lien")
    tab.expect_heading("Révoquer ce lien de partage ?")
    tab.submit("Révoquer le lien")
    tab.expect_heading("Lien de partage « Urgences Lyon »")
    expect(message(page)).to_contain_text("est révoqué")
    expect(page.get_by_role("main")).to_contain_text("Révoqué")
    tab.follow("Liens de partage")
    tab.expect_heading("Liens de partage")
    expect(page.get_by_role("heading", name="Liens révoqués (1)")).to_be_visible()

    # --- The doctor's next visit: gone, nothing said of what it was --------------------------
    response = seen.goto(doctor.base_url + path)
    doctor.audit()
    assert response.status == 410
    doctor.expect_heading("Ce lien de partage n'est plus valable")
    expect(seen.get_by_role("main")).not_to_contain_text("Alice")
    doctor.snap("partage-revoque")
    actions = set(
        Event.objects.filter(actor=share.actor).values_list("action", flat=True).distinct()
    )
    assert actions == {
        "partage_code_refuse",
        "partage_ouverture",
        "document_telechargement",
        "partage_synthese",
    }
