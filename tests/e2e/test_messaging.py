"""The messaging in Chromium: a patient receives a professional's message with a PDF, reads it,
saves the attachment to their documents, replies with an attachment, archives and deletes the
conversation; the welcome message is there from the activation; a body and a file name with
script and `javascript:` links render inert. axe-core checks every page."""

import re

import pytest
from playwright.sync_api import expect

from carnet.documents.models import Document
from carnet.enrollment.selectors import space_for_user
from carnet.messaging import services
from carnet.messaging.models import Message
from tests.consent.conftest import authorise, make_professional
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import PASSWORD, activate

from . import steps

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"
SUBJECT = "Vos résultats d'analyse"
HOSTILE = '<script>alert("x")</script> <a href="javascript:alert(1)">cliquez</a>'


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email=EMAIL, mobile="+33612345678")
    return activate(issued, identifier="alice.martin")


@pytest.fixture
def received(alice):
    pro = make_professional("medecin", last_name="ROCHEFORT", messaging_address="dr@mss.fr")
    space = space_for_user(alice)
    authorise(space, pro)
    return services.conversation_start(
        user=pro.user,
        professional=pro,
        space=space,
        subject=SUBJECT,
        body=f"Bonjour, voici vos résultats.\n{HOSTILE}",
        files=[
            services.OutgoingFile(
                filename='résultats<img src=x onerror="alert(1)">.pdf',
                data=pdf_bytes("Résultats"),
                media_type="application/pdf",
                extension="pdf",
            )
        ],
    )


def test_messaging_journey(ui, alice, received):
    tab, page = ui.tab, ui.tab.page
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    steps.log_in(ui, "alice.martin", PASSWORD, email=EMAIL)

    # --- The inbox: the welcome message and the professional's message, unread --------------
    tab.follow("Messagerie", within="navigation")
    tab.expect_heading("Messagerie")
    main = page.get_by_role("main")
    expect(main).to_contain_text("Mon adresse de messagerie à communiquer à mes professionnels")
    expect(main).to_contain_text(alice.person.nir)
    expect(main.get_by_role("link", name="Bienvenue dans votre messagerie")).to_be_visible()
    row = page.locator(".conversation-row").filter(has_text=SUBJECT)
    expect(row.locator(".badge").filter(has_text="Non lu")).to_have_count(1)

    # --- Read it: the hostile body is shown as text, nothing runs ------------------------------
    tab._navigate_by(row.get_by_role("link", name=SUBJECT))
    tab.expect_heading(SUBJECT)
    expect(main).to_contain_text('<script>alert("x")</script>')
    expect(page.locator("main a[href^='javascript']")).to_have_count(0)
    assert dialogs == []

    # --- Save the attachment to my documents ---------------------------------------------------
    tab._navigate_by(page.get_by_role("link", name=re.compile("^Enregistrer dans mes documents")))
    tab.expect_heading("Enregistrer dans mes documents")
    page.get_by_label("Titre").fill("Résultats de la prise de sang")
    page.get_by_label("Catégorie").select_option(label="Résultats de biologie")
    tab.submit("Enregistrer dans mes documents")
    assert Document.objects.filter(title="Résultats de la prise de sang").exists()

    # --- Reply with an attachment --------------------------------------------------------------
    tab.visit(f"/messagerie/{received.public_id}/")
    page.get_by_label("Votre message").fill("Merci docteur, voici mon ancienne ordonnance.")
    page.get_by_label("Joindre des fichiers depuis mon appareil").set_input_files(
        files=[
            {"name": "ordonnance.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("Ord")}
        ]
    )
    tab.submit("Envoyer")
    expect(main).to_contain_text("Merci docteur")
    reply = Message.objects.get(conversation=received, author_kind=Message.AuthorKind.PERSON)
    assert [a.filename for a in reply.attachments.all()] == ["ordonnance.pdf"]

    # --- Archive, then delete (after the warning) ---------------------------------------------
    tab.submit("Archiver")
    tab.visit("/messagerie/")
    expect(page.locator(".conversation-row").filter(has_text=SUBJECT)).to_have_count(0)
    tab.visit("/messagerie/?archives=1")
    tab.expect_heading("Conversations archivées")
    tab._navigate_by(page.get_by_role("link", name=SUBJECT))
    tab.follow("Supprimer", within="main")
    tab.expect_heading("Supprimer cette conversation ?")
    expect(main).to_contain_text("ne seront plus accessibles")
    tab.submit("Supprimer la conversation")
    tab.visit("/messagerie/?archives=1")
    expect(page.locator(".conversation-row").filter(has_text=SUBJECT)).to_have_count(0)
    assert dialogs == []
