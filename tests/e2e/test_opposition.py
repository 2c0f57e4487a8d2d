"""Opposition with its PDF proof, then a change of mind with a new code from the outbox."""

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from carnet.accounts.models import User
from carnet.core import clock
from carnet.enrollment.models import Space

from . import steps

pytestmark = pytest.mark.e2e


def test_opposition_then_activation_with_a_new_code(ui, issue_code, tmp_path):
    issued = issue_code(first_name="Bruno", vitale_photo=True)
    person, tab = issued.person, ui.tab

    tab.visit("/activer/")
    steps.identify(tab, person, issued.code)
    tab.expect_heading("Je prends ma décision")
    tab.page.get_by_label("Je m'oppose à sa création").check()
    tab.submit("Valider ma décision")  # no CGU needed to oppose

    tab.expect_heading("Je confirme mon opposition")
    expect(tab.page.get_by_text("Aucun espace numérique de santé ne sera créé")).to_be_visible()
    tab.snap("opposition-confirmation")
    tab.submit("Confirmer mon opposition")

    tab.expect_heading("Votre opposition a bien été enregistrée")
    tab.snap("opposition-enregistree")
    assert Space.objects.get(person=person).state == Space.State.OPPOSED
    with tab.page.expect_download() as download_info:
        tab.page.get_by_role("link", name="Télécharger l'attestation d'opposition (PDF)").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    content = Path(saved).read_bytes()
    assert content.startswith(b"%PDF-")
    assert content.rstrip().endswith(b"%%EOF")
    ui.read_outbox(
        to=person.email,
        subject="Votre opposition a bien été enregistrée",
        pattern=r"(Aucun espace ne sera créé à votre nom)",
    )

    # Three days later, a change of mind: « J'ai besoin d'un code ? »
    clock.set_offset(timedelta(days=3))
    tab.visit("/activer/")
    tab.follow("J'ai besoin d'un code ?")
    tab.expect_heading("J'ai besoin d'un code")
    tab.snap("j-ai-besoin-d-un-code")
    steps.fill_identify_person(tab, person)
    tab.submit("Recevoir un nouveau code")
    tab.expect_heading("Demande enregistrée")
    tab.snap("demande-enregistree")

    new_code = steps.read_provisional_code(ui, person)
    assert new_code != issued.code
    tab.follow("J'ai reçu mon code")
    steps.identify(tab, person, new_code)
    expect(tab.page.get_by_text("Bonjour Bruno, vous êtes bien identifié(e).")).to_be_visible()
    steps.decide_activate(tab)
    steps.keep_contacts(tab)
    steps.choose_credentials(tab, "bruno.change.d.avis")
    tab.expect_heading("Votre espace a bien été activé")

    space = Space.objects.get(person=person)
    assert space.state == Space.State.ACTIVE
    assert User.objects.get(person=person).identifier == "bruno.change.d.avis"
