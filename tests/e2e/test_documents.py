"""My documents in Chromium: a PDF added with the file input, a PNG dropped on the zone (sent
with a progress bar), a disguised file refused next to its field, the list filtered, sorted and
searched, the PDF viewed inline under its sandbox, then hidden, deleted, restored, and the
journal of consultations. Every page is checked by axe-core at phone and desktop sizes; the
plain form is also used without JavaScript."""

import base64
import io
import random
import re

import pytest
from playwright.sync_api import expect

from carnet.documents.models import Document
from tests.documents.conftest import image_bytes, pdf_bytes
from tests.enrollment.helpers import PASSWORD, activate

from . import steps
from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"
DOCUMENT_PAGE = re.compile(r"/documents/[0-9a-f-]{36}/$")
FILE_LABEL = "Choisir un fichier"
PDF_VIEWER = "chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/"  # Chromium's built-in one


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email=EMAIL, mobile="+33612345678")
    return activate(issued, identifier="alice.martin")


def noisy_png(side: int = 600) -> bytes:
    """A real PNG of about 1 MB (noise does not compress): long enough to see the upload."""
    from PIL import Image

    pixels = random.Random(1947).randbytes(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def as_file(name: str, data: bytes, mime: str) -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


def both_sizes(tab, label: str) -> None:
    """axe-core at desktop size too (the helpers audit at phone size), then the screenshots."""
    tab.page.set_viewport_size(DESKTOP)
    tab.audit()
    tab.page.set_viewport_size(PHONE)
    tab.snap(label)


def message(page):
    return page.get_by_role("status").filter(has=page.locator(".notice"))


def drop(page, files: list[tuple[str, bytes, str]]) -> None:
    """Drag these files over the zone and drop them there, as a file manager does."""
    transfer = page.evaluate_handle(
        """(files) => {
          const transfer = new DataTransfer();
          for (const [name, b64, type] of files) {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name, {type}));
          }
          return transfer;
        }""",
        [[name, base64.b64encode(data).decode(), mime] for name, data, mime in files],
    )
    zone = page.locator("[data-dropzone]")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    expect(zone).to_have_class(re.compile(r"\bis-over\b"))
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(zone).not_to_have_class(re.compile(r"\bis-over\b"))


# Returns whether the page cancelled the drop (the browser would otherwise open the file).
DROP_BESIDE = """(b64) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], "x.png"));
  const init = {bubbles: true, cancelable: true, dataTransfer: transfer};
  const heading = document.querySelector("h1");
  heading.dispatchEvent(new DragEvent("dragover", init));
  return !heading.dispatchEvent(new DragEvent("drop", init));
}"""


def send_upload(tab):
    """ "Ajouter le document" with JavaScript: the file goes by XMLHttpRequest; returns it."""
    page = tab.page
    with page.expect_request(lambda r: r.method == "POST") as sent:
        page.get_by_role("button", name="Ajouter le document").click()
    return sent.value


def upload_refused(tab) -> None:
    """The server's answer to a refused upload replaces the page: check it like any page."""
    page = tab.page
    expect(page.locator("#erreurs")).to_be_focused()
    tab.expect_heading("Ajouter un document")
    tab.audit()


def upload_accepted(tab, title: str) -> None:
    page = tab.page
    page.wait_for_url(DOCUMENT_PAGE)
    tab.expect_heading(title)
    # shown once, on the page the person lands on (the redirect was not loaded twice)
    expect(message(tab.page)).to_have_text(f"Le document « {title} » a été ajouté.")
    tab.audit()


def viewer_frame(page):
    """The frame of Chromium's PDF viewer in this tab, once it has loaded."""
    for _ in range(100):
        found = [f for f in page.frames if f.url.startswith(PDF_VIEWER)]
        if found:
            return found[0]
        page.wait_for_timeout(100)
    raise AssertionError(f"no PDF viewer in {[f.url for f in page.frames]}")


def tab_to(page, target, limit: int = 30) -> None:
    """Press Tab from the top of the page until `target` has the focus."""
    path = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        path.append(page.evaluate("() => document.activeElement.outerHTML.slice(0, 80)"))
        if target.evaluate("(element) => element === document.activeElement"):
            return
    raise AssertionError(f"not reached with Tab; the focus went through {path}")


def list_titles(page):
    return page.locator("ul.documents").get_by_role("heading", level=2).get_by_role("link")


def show_list(tab, *, search: str = "", filter_by: str = "Tous les documents", sort: str = ""):
    page = tab.page
    page.get_by_label("Rechercher dans les titres").fill(search)
    page.get_by_label("Filtrer par").select_option(label=filter_by)
    if sort:
        page.get_by_label("Trier par").select_option(label=sort)
    tab.submit("Afficher")


def test_documents_journey(ui, alice):
    tab = ui.tab
    page = tab.page
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)
    nav = page.get_by_role("navigation", name="Navigation principale")
    with page.expect_navigation():
        nav.get_by_role("link", name="Documents", exact=True).click()
    tab.audit()
    tab.expect_heading("Mes documents")
    expect(page.locator(".empty-state")).to_contain_text("Vous n'avez encore aucun document.")
    both_sizes(tab, "liste-vide")

    # --- The form: the zone and its file input are reached with the keyboard -----------------
    tab.follow("Ajouter un document")
    tab.expect_heading("Ajouter un document")
    zone = page.locator("[data-dropzone]")
    file_input = page.get_by_label(FILE_LABEL)
    expect(zone.get_by_text("Glisser-déposer un fichier pour le joindre")).to_be_visible()
    expect(file_input).to_have_accessible_description(re.compile("Taille maximale : 5 Mo"))
    tab_to(page, file_input)
    expect(file_input).to_be_focused()
    assert zone.evaluate("(zone) => zone.matches(':focus-within')")
    assert zone.evaluate("(zone) => getComputedStyle(zone).borderTopStyle") == "solid"
    page.keyboard.press("Tab")
    expect(page.get_by_label("Titre (facultatif)")).to_be_focused()
    both_sizes(tab, "ajout-formulaire")

    # --- A PNG renamed .pdf: refused by the server, the error next to the field ---------------
    file_input.set_input_files(files=[as_file("radio-genou.pdf", image_bytes(), "application/pdf")])
    expect(zone).to_contain_text("Fichier choisi : radio-genou.pdf")
    page.get_by_label("Catégorie").select_option(label="Radio, écho, scanner, IRM")
    assert send_upload(tab).resource_type == "xhr"
    upload_refused(tab)
    steps.expect_field_error(
        tab, FILE_LABEL, "Ce fichier n'est pas un PDF valide : son contenu est une image PNG."
    )
    expect(page.get_by_label("Titre (facultatif)")).to_have_value("")  # not the refused name
    both_sizes(tab, "ajout-fichier-refuse")
    assert not Document.objects.exists()

    # --- A PDF with the file input (the form shown again by the server keeps working) --------
    report = pdf_bytes("Compte rendu de cardiologie")
    file_input.set_input_files(
        files=[as_file("Compte-rendu cardio.pdf", report, "application/pdf")]
    )
    page.get_by_label("Catégorie").select_option(label="Comptes rendus")
    page.get_by_label("Date du document").fill("2025-03-14")
    assert send_upload(tab).resource_type == "xhr"
    upload_accepted(tab, "Compte-rendu cardio")
    expect(page.get_by_role("main")).to_contain_text("14 mars 2025")
    both_sizes(tab, "document-pdf")

    # --- A PNG dropped on the zone, sent with a progress bar ---------------------------------
    tab.follow("Mes documents", within="main")
    tab.follow("Ajouter un document")
    # a file dropped beside the zone is ignored: it must not replace the form
    assert page.evaluate(DROP_BESIDE, base64.b64encode(image_bytes()).decode())
    expect(zone.locator("[data-file-name]")).to_have_text("")
    drop(page, [("a.png", image_bytes(), "image/png"), ("b.png", image_bytes(), "image/png")])
    error = zone.locator(".js-error")
    expect(error).to_have_text("Un seul fichier peut être déposé à la fois.")
    expect(zone).to_have_class(re.compile(r"\bfield-error\b"))
    expect(file_input).to_have_attribute("aria-invalid", "true")
    expect(file_input).to_have_accessible_description(
        re.compile("Un seul fichier peut être déposé à la fois.")
    )
    posts = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    page.get_by_role("button", name="Ajouter le document").click()
    expect(file_input).to_be_focused()
    assert posts == []  # refused in the browser: nothing was sent
    tab.audit()
    tab.snap("ajout-deux-fichiers")

    knee = noisy_png()
    drop(page, [("Radio du genou.png", knee, "image/png")])
    expect(error).to_have_count(0)
    expect(zone).not_to_have_class(re.compile(r"\bfield-error\b"))
    expect(file_input).not_to_have_attribute("aria-invalid", "true")
    expect(zone.locator("[data-file-name]")).to_have_text("Fichier choisi : Radio du genou.png")
    page.get_by_label("Catégorie").select_option(label="Radio, écho, scanner, IRM")
    # a slow uplink (about 4 s for this file), so that the progress bar is seen moving
    cdp = ui.context.new_cdp_session(page)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 250_000},
    )
    progress = page.get_by_role("progressbar", name="Envoi du fichier")
    expect(progress).to_be_hidden()
    sent = send_upload(tab)
    expect(progress).to_be_visible()
    expect(page.get_by_role("button", name="Ajouter le document")).to_be_disabled()
    expect(progress).to_have_attribute("value", re.compile(r"^[1-9]"))  # it moves
    tab.snap("ajout-envoi-en-cours")
    upload_accepted(tab, "Radio du genou")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    assert sent.resource_type == "xhr"
    assert Document.objects.get(title="Radio du genou").size == len(knee)
    both_sizes(tab, "document-png")

    # --- The list: filter by category, sort by name, search ----------------------------------
    tab.follow("Mes documents", within="main")
    expect(list_titles(page)).to_have_text(["Radio du genou", "Compte-rendu cardio"])  # recent
    show_list(tab, filter_by="Comptes rendus")
    expect(list_titles(page)).to_have_text(["Compte-rendu cardio"])
    expect(page.locator(".list-count")).to_have_text("1 - 1 sur 1")
    both_sizes(tab, "liste-filtre")
    show_list(tab, sort="Nom A→Z")
    expect(list_titles(page)).to_have_text(["Compte-rendu cardio", "Radio du genou"])
    expect(page.get_by_label("Trier par")).to_have_value("nom")
    show_list(tab, search="genou")
    expect(list_titles(page)).to_have_text(["Radio du genou"])
    expect(page.get_by_label("Rechercher dans les titres")).to_have_value("genou")
    both_sizes(tab, "liste-recherche")
    show_list(tab, search="échographie")
    expect(page.get_by_role("main")).to_contain_text("Aucun document ne correspond")
    tab.audit()
    show_list(tab)

    # --- The PDF, inline in Chromium's viewer, under "Content-Security-Policy: sandbox" ------
    tab.follow("Compte-rendu cardio")
    see = page.get_by_role("link", name="Voir le document Compte-rendu cardio")
    href = see.get_attribute("href")
    assert href.endswith("/fichier/")
    viewer = ui.new_tab()  # not an HTML page of ours: no axe here, and the tab is closed after
    response = viewer.page.goto(tab.base_url + href)
    headers = response.all_headers()  # `.headers` leaves out the security ones
    assert headers["content-type"] == "application/pdf"
    assert headers["content-security-policy"] == "sandbox"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"].startswith("inline")
    # The sandbox does not block Chromium's viewer: its frame loads and lays out the one page.
    extension = viewer_frame(viewer.page)
    expect(extension.locator("pdf-viewer")).to_be_attached()
    expect(extension.locator("viewer-page-selector")).to_contain_text(re.compile(r"/\s*1"))
    viewer.snap("pdf-integre")
    viewer.page.close()

    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger le document Compte-rendu cardio").click()
    assert download.value.suggested_filename == "Compte-rendu cardio.pdf"
    assert download.value.path().read_bytes() == report

    # --- Pin, hide: the badges --------------------------------------------------------------
    tab.submit("Épingler")
    expect(message(page)).to_have_text("Le document est épinglé.")
    tab.submit("Masquer aux professionnels de santé")
    expect(message(page)).to_have_text("Le document est masqué aux professionnels de santé.")
    expect(page.get_by_role("main")).to_contain_text("Masqué aux professionnels de santé")
    both_sizes(tab, "document-masque")
    tab.follow("Renommer, changer la catégorie ou la date")
    tab.expect_heading("Modifier le document")
    both_sizes(tab, "document-modifier")
    tab.follow("Retour au document")
    tab.follow("Mes documents", within="main")
    row = page.locator(".document-row").filter(has_text="Compte-rendu cardio")
    expect(row.locator(".badge")).to_have_text(["Épinglé", "Masqué aux professionnels"])
    both_sizes(tab, "liste-badges")

    # --- Delete (with its confirmation), then restore ---------------------------------------
    tab.follow("Compte-rendu cardio")
    tab.follow("Supprimer", within="main")
    tab.expect_heading("Supprimer ce document ?")
    both_sizes(tab, "suppression-confirmation")
    tab.submit("Supprimer le document")
    tab.expect_heading("Mes documents")
    expect(message(page)).to_contain_text("Le document « Compte-rendu cardio » a été supprimé.")
    expect(list_titles(page)).to_have_text(["Radio du genou"])
    tab.follow("Documents supprimés")
    tab.expect_heading("Documents supprimés")
    expect(page.get_by_role("main")).to_contain_text("Compte-rendu cardio")
    both_sizes(tab, "documents-supprimes")
    tab.submit("Restaurer : Compte-rendu cardio")
    tab.expect_heading("Compte-rendu cardio")
    expect(message(page)).to_have_text("Le document « Compte-rendu cardio » a été restauré.")

    # --- Who saw my documents; the other pages of the section --------------------------------
    tab.follow("Mes documents", within="main")
    tab.follow("Qui a consulté mes documents ?")
    expect(page.get_by_role("main")).to_contain_text("Consultation d'un document")
    both_sizes(tab, "qui-a-consulte")
    tab.visit("/documents/")
    tab.follow("Préférences des documents")
    tab.expect_heading("Préférences des documents")
    both_sizes(tab, "preferences")
    tab.follow("Mes documents", within="main")
    tab.follow("Historique des soins")
    tab.expect_heading("Historique des soins")
    both_sizes(tab, "historique-des-soins")


def test_upload_without_javascript(ui_without_js, alice):
    tab = ui_without_js.tab
    page = tab.page
    steps.log_in(ui_without_js, "alice.martin", PASSWORD, email=EMAIL)
    tab.visit("/documents/ajouter/")
    tab.expect_heading("Ajouter un document")
    # the drop hint is an enhancement: without JavaScript there is just the file input
    expect(page.get_by_text("Glisser-déposer")).to_be_hidden()
    file_input = page.get_by_label(FILE_LABEL)
    file_input.set_input_files(
        files=[as_file("ordonnance.pdf", image_bytes("JPEG"), "application/pdf")]
    )
    page.get_by_label("Catégorie").select_option(label="Ordonnances et soins")
    tab.submit("Ajouter le document")
    steps.expect_field_error(
        tab, FILE_LABEL, "Ce fichier n'est pas un PDF valide : son contenu est une image JPEG."
    )
    both_sizes(tab, "sans-js-fichier-refuse")
    file_input.set_input_files(
        files=[as_file("Ordonnance kiné.pdf", pdf_bytes(), "application/pdf")]
    )
    page.get_by_label("Catégorie").select_option(label="Ordonnances et soins")
    tab.submit("Ajouter le document")
    tab.expect_heading("Ordonnance kiné")
    expect(message(page)).to_have_text("Le document « Ordonnance kiné » a été ajouté.")
    both_sizes(tab, "sans-js-document")
    assert Document.objects.get().title == "Ordonnance kiné"
