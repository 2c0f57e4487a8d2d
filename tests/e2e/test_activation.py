"""The whole activation, from the provisional code to the first login; back links."""

import re

import pytest
from playwright.sync_api import expect

from carnet.accounts.models import User
from carnet.enrollment.models import Space

from . import steps

pytestmark = pytest.mark.e2e


def test_whole_activation_with_a_new_email_then_login(ui, issue_code):
    issued = issue_code(vitale_photo=False, vitale_serial="123456789", first_name="Alice")
    person, tab = issued.person, ui.tab
    new_email = "alice.nouvelle@exemple.fr"

    # Step 1 — Je m'identifie
    tab.visit("/")
    tab.follow("Activer ou m'opposer")
    tab.expect_heading("Je m'identifie")
    expect(tab.page.get_by_text("Étape 1 sur 4")).to_be_visible()
    tab.snap("etape-1-je-m-identifie")
    steps.fill_identify(
        tab,
        code=issued.code,
        nir=steps.spaced_nir(person.nir),
        birth_date=steps.birth(person),
        photo=False,
        serial="123 456 789",
    )
    tab.submit("Continuer")

    # Step 2 — Je prends ma décision
    tab.expect_heading("Je prends ma décision")
    expect(tab.page.get_by_text("Étape 2 sur 4")).to_be_visible()
    expect(tab.page.get_by_text("Bonjour Alice, vous êtes bien identifié(e).")).to_be_visible()
    tab.snap("etape-2-je-prends-ma-decision")
    tab.page.get_by_label("J'active mon espace").check()
    tab.submit("Valider ma décision")  # the CGU box is required to activate
    steps.expect_field_error(
        tab,
        "J'accepte les Conditions Générales d'Utilisation et la Politique de protection des "
        "données personnelles",
        "acceptez les Conditions Générales d'Utilisation",
    )
    tab.snap("etape-2-erreur-cgu")
    tab.page.get_by_label("J'accepte les Conditions Générales d'Utilisation").check()
    tab.submit("Valider ma décision")

    # Step 3 — Je vérifie mes coordonnées, with a new email confirmed by a 6-digit code
    tab.expect_heading("Je vérifie mes coordonnées")
    expect(tab.page.get_by_text("Étape 3 sur 4")).to_be_visible()
    email = tab.page.get_by_label("Adresse e-mail")
    expect(email).to_have_value(person.email)
    tab.snap("etape-3-je-verifie-mes-coordonnees")
    email.fill(new_email)
    tab.submit("Continuer")
    tab.expect_heading("Je confirme mon adresse e-mail")
    expect(tab.page.get_by_text("a*****@exemple.fr")).to_be_visible()
    tab.snap("etape-3-je-confirme-mon-adresse")

    tab.page.get_by_label("Code de vérification").fill("000000")
    tab.submit("Confirmer")
    steps.expect_field_error(tab, "Code de vérification", "Code incorrect")

    code = ui.read_outbox(
        to=new_email, subject=steps.CHECK_EMAIL_SUBJECT, pattern=steps.CHECK_PATTERN
    )
    tab.page.get_by_label("Code de vérification").fill(code)
    tab.submit("Confirmer")

    # Step 4 — Je choisis mon identifiant et mon mot de passe
    tab.expect_heading("Je choisis mon identifiant et mon mot de passe")
    expect(tab.page.get_by_text("Étape 4 sur 4")).to_be_visible()
    password = tab.page.get_by_label("Mot de passe", exact=True)
    password.fill("abcdef")  # the strength meter, a progressive enhancement
    expect(tab.page.get_by_text("Robustesse : Trop court")).to_be_visible()
    password.fill(steps.GOOD_PASSWORD)
    expect(tab.page.get_by_text("Robustesse : Très bon")).to_be_visible()
    tab.snap("etape-4-identifiant-et-mot-de-passe")
    steps.choose_credentials(tab, "alice.martin")

    tab.expect_heading("Votre espace a bien été activé")
    tab.snap("activation-terminee")

    user = User.objects.get(identifier="alice.martin")
    assert user.person_id == person.pk
    assert (user.email, user.email_verified) == (new_email, True)
    assert Space.objects.get(person=person).state == Space.State.ACTIVE
    welcome = ui.read_outbox(
        to=new_email,
        subject="Votre espace santé est activé",
        pattern=r"Votre identifiant est : (\S+)",
    )
    assert welcome == "alice.martin"

    # Logging in works at /connexion/
    tab.follow("Me connecter")
    assert tab.page.url.endswith("/connexion/")
    tab.snap("connexion")
    steps.enter_password(tab, "alice.martin", steps.GOOD_PASSWORD)
    steps.choose_channel(tab, "Par e-mail")
    tab.expect_heading(steps.CODE_HEADING)
    steps.enter_code(tab, steps.read_access_code(ui, email=new_email))
    tab.expect_heading("Bienvenue Alice")
    tab.follow("Plus tard, aller à l'accueil")
    tab.expect_heading("Bonjour Alice")
    tab.page.locator("details.account-menu > summary").click()
    expect(tab.page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    tab.snap("mon-espace")


def test_back_links_keep_what_was_entered(ui, issue_code):
    issued = issue_code(vitale_photo=True)
    person, tab = issued.person, ui.tab
    tab.visit("/activer/")
    steps.identify(tab, person, issued.code)

    tab.expect_heading("Je prends ma décision")
    tab.follow("Retour à l'étape précédente")
    tab.expect_heading("Je m'identifie")
    page = tab.page
    expect(page.get_by_label("Numéro de sécurité sociale")).to_have_value(person.nir)
    expect(page.get_by_label("Date de naissance")).to_have_value(steps.birth(person))
    expect(page.get_by_label("Carte Vitale avec photo")).to_be_checked()
    expect(page.get_by_label("Numéro de série de carte Vitale")).to_have_value(person.vitale_serial)
    expect(page.get_by_label("Code provisoire")).to_have_value("")  # never kept
    tab.snap("retour-etape-1")

    # going on again works, and the decision is kept when coming back from step 3
    page.get_by_label("Code provisoire").fill(issued.code)
    tab.submit("Continuer")
    steps.decide_activate(tab)
    tab.follow("Retour à l'étape précédente")
    tab.expect_heading("Je prends ma décision")
    expect(page.get_by_label("J'active mon espace")).to_be_checked()
    page.get_by_label("J'accepte les Conditions Générales d'Utilisation").check()
    tab.submit("Valider ma décision")
    tab.expect_heading("Je vérifie mes coordonnées")
    tab.submit("Continuer")
    tab.expect_heading("Je choisis mon identifiant et mon mot de passe")

    # from step 4 back to step 3: the contacts chosen are shown again
    tab.follow("Retour à l'étape précédente")
    tab.expect_heading("Je vérifie mes coordonnées")
    expect(page.get_by_label("Adresse e-mail")).to_have_value(person.email)
    expect(page.get_by_label("Numéro de téléphone mobile")).to_have_value(
        re.compile(re.escape(person.mobile[-8:]))
    )
