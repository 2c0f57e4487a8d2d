"""Steps of the activation wizard as a person performs them, by the visible French labels."""

import re

from playwright.sync_api import expect

CODE_EMAIL_SUBJECT = "Votre code provisoire"
CODE_PATTERN = r"Votre code provisoire confidentiel : ([0-9A-Za-z]{12})"
CHECK_EMAIL_SUBJECT = "Votre code de vérification"
CHECK_PATTERN = r"Votre code de vérification est : (\d{6})"
GOOD_PASSWORD = "un tramway nommé désir 1947"


def birth(person) -> str:
    return person.birth_date.strftime("%d/%m/%Y")


def spaced_nir(nir: str) -> str:
    """The NIR as printed on the card: 1 80 05 75 112 001 42."""
    return " ".join((nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]))


def wrong_code(code: str) -> str:
    """A well-formed code that is not this one."""
    return ("B" if code[0] == "A" else "A") + code[1:]


def fill_identify(tab, *, code, nir, birth_date, photo, serial):
    page = tab.page
    page.get_by_label("Code provisoire").fill(code)
    page.get_by_label("Numéro de sécurité sociale").fill(nir)
    page.get_by_label("Date de naissance").fill(birth_date)
    page.get_by_label("Carte Vitale avec photo" if photo else "Carte Vitale sans photo").check()
    page.get_by_label("Numéro de série de carte Vitale").fill(serial)


def fill_identify_person(tab, person):
    """The form of "J'ai besoin d'un code ?": the same fields as step 1 but the code."""
    page = tab.page
    page.get_by_label("Numéro de sécurité sociale").fill(spaced_nir(person.nir))
    page.get_by_label("Date de naissance").fill(birth(person))
    label = "Carte Vitale avec photo" if person.vitale_photo else "Carte Vitale sans photo"
    page.get_by_label(label).check()
    page.get_by_label("Numéro de série de carte Vitale").fill(person.vitale_serial)


def identify(tab, person, code, *, nir=None, birth_date=None, serial=None):
    """Fill step 1 with the person's data (any piece can be overridden) and submit it."""
    fill_identify(
        tab,
        code=code,
        nir=nir or spaced_nir(person.nir),
        birth_date=birth_date or birth(person),
        photo=person.vitale_photo,
        serial=serial or person.vitale_serial,
    )
    tab.submit("Continuer")


def failure_alert(tab):
    """The alert at the top of step 1 when identification fails."""
    return tab.page.get_by_role("alert").filter(
        has=tab.page.get_by_role("heading", name="Identification impossible")
    )


def decide_activate(tab):
    tab.expect_heading("Je prends ma décision")
    tab.page.get_by_label("J'active mon espace").check()
    tab.page.get_by_label("J'accepte les Conditions Générales d'Utilisation").check()
    tab.submit("Valider ma décision")
    tab.expect_heading("Je vérifie mes coordonnées")


def keep_contacts(tab):
    tab.expect_heading("Je vérifie mes coordonnées")
    tab.submit("Continuer")
    tab.expect_heading("Je choisis mon identifiant et mon mot de passe")


def choose_credentials(tab, identifier, password=GOOD_PASSWORD, confirm=None):
    page = tab.page
    page.get_by_label("Identifiant", exact=True).fill(identifier)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_label("Confirmation du mot de passe").fill(password if confirm is None else confirm)
    tab.submit("Activer mon espace")


def reach_credentials(ui, person, code):
    ui.tab.visit("/activer/")
    identify(ui.tab, person, code)
    decide_activate(ui.tab)
    keep_contacts(ui.tab)


def read_provisional_code(ui, person) -> str:
    return ui.read_outbox(to=person.email, subject=CODE_EMAIL_SUBJECT, pattern=CODE_PATTERN)


def expect_field_error(tab, label: str, message: str | re.Pattern, *, exact=True):
    """The error is shown next to the field, announced with it, and listed in the summary."""
    page = tab.page
    field = page.get_by_label(label, exact=exact)
    expect(field).to_have_attribute("aria-invalid", "true")
    pattern = message if isinstance(message, re.Pattern) else re.compile(re.escape(message))
    expect(field).to_have_accessible_description(pattern)
    field_id = field.get_attribute("id")
    summary = page.get_by_role("alert").get_by_role(
        "link", name=re.compile("^" + re.escape(label) + " :")
    )
    expect(summary.first).to_have_attribute("href", f"#{field_id}")
    expect(summary.first).to_contain_text(pattern)
