"""Account settings: a new email address is confirmed by a code sent to it, then the person
logs out; the next login offers the new address."""

import pytest
from playwright.sync_api import expect

from carnet.accounts.models import User
from tests.enrollment.helpers import PASSWORD, activate

from . import steps

pytestmark = pytest.mark.e2e

OLD_EMAIL = "alice.martin@exemple.fr"
NEW_EMAIL = "alice.nouvelle@exemple.org"


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email=OLD_EMAIL, mobile="+33612345678")
    return activate(issued, identifier="alice.martin")


def test_change_email_confirmed_by_a_code_to_the_new_address_then_log_out(ui, alice):
    tab = ui.tab
    steps.log_in(ui, "alice.martin", PASSWORD, email=OLD_EMAIL)
    tab.follow("Plus tard, aller à l'accueil")
    tab.expect_heading("Bonjour Alice")

    tab.page.locator("details.account-menu > summary").click()
    tab.follow("Paramètres")
    tab.expect_heading("Paramètres")
    tab.snap("parametres")
    tab.follow("Modifier mes coordonnées")
    tab.expect_heading("Mes coordonnées")
    expect(tab.page.get_by_role("main")).to_contain_text(OLD_EMAIL)
    tab.snap("parametres-coordonnees")
    tab.follow("Modifier mon adresse e-mail")
    tab.expect_heading("Modifier mon adresse e-mail")

    # the current address, or a malformed one, is refused next to the field
    field = "Nouvelle adresse e-mail"
    tab.page.get_by_label(field).fill(OLD_EMAIL)
    tab.submit("Recevoir un code de vérification")
    steps.expect_field_error(tab, field, "C'est déjà votre adresse e-mail.")
    tab.page.get_by_label(field).fill("alice.nouvelle@")
    tab.submit("Recevoir un code de vérification")
    steps.expect_field_error(tab, field, "Saisissez une adresse e-mail valide")
    tab.snap("parametres-modifier-email-erreur")

    tab.page.get_by_label(field).fill(NEW_EMAIL)
    tab.submit("Recevoir un code de vérification")
    tab.expect_heading("Je confirme ma nouvelle adresse e-mail")
    expect(tab.page.get_by_role("main")).to_contain_text("a*****@exemple.org")
    tab.snap("parametres-confirmer-email")
    code = ui.read_outbox(to=NEW_EMAIL, subject="Votre code", pattern=r"(?<!\d)(\d{6})(?!\d)")

    tab.page.get_by_label("Code de vérification").fill(steps.not_that(code))
    tab.submit("Confirmer")
    steps.expect_field_error(
        tab, "Code de vérification", "Code incorrect. Il vous reste 4 essai(s)."
    )
    assert User.objects.get(pk=alice.pk).email == OLD_EMAIL  # nothing changed yet
    tab.page.get_by_label("Code de vérification").fill(code)
    tab.submit("Confirmer")

    tab.expect_heading("Mes coordonnées")
    expect(tab.page.get_by_role("status")).to_contain_text("Votre adresse e-mail est modifiée.")
    expect(tab.page.get_by_role("main")).to_contain_text(NEW_EMAIL)
    tab.snap("parametres-email-modifie")
    alice.refresh_from_db()
    assert (alice.email, alice.email_verified) == (NEW_EMAIL, True)
    # the old address is told, without saying the new one
    notice = ui.read_outbox(
        to=OLD_EMAIL, subject="Votre adresse e-mail a été modifiée", pattern=r"(?s)(.*)"
    )
    assert NEW_EMAIL not in notice

    steps.log_out(tab)
    tab.expect_heading(steps.LOGIN_HEADING)
    expect(tab.page.get_by_role("status")).to_contain_text("Vous êtes déconnecté(e).")

    # the next login offers the new address, and the code goes there
    steps.enter_password(tab, "alice.martin", PASSWORD)
    expect(tab.page.get_by_label("Par e-mail")).to_have_accessible_name(
        "Par e-mail (a*****@exemple.org)"
    )
    steps.choose_channel(tab, "Par e-mail")
    steps.enter_code(tab, steps.read_access_code(ui, email=NEW_EMAIL))
    tab.expect_heading("Bonjour Alice")
