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


# --- Login: "Je m'identifie" → "Je choisis le mode de réception…" → "Je saisis le code…" ---

LOGIN_HEADING = "Je m'identifie"
CHANNEL_HEADING = "Je choisis le mode de réception de mon code d'accès"
CODE_HEADING = "Je saisis le code d'accès"
ACCESS_EMAIL_SUBJECT = "Votre code d'accès"
ACCESS_EMAIL_PATTERN = r"Votre code d'accès est : (\d{6})"
ACCESS_SMS_PATTERN = r"votre code d'accès est (\d{6})"
LOGIN_FAILED = "Identifiant ou mot de passe incorrect."
NAVIGATION = ["Accueil", "Profil médical", "Documents", "Messagerie", "Agenda", "Catalogue"]


def enter_password(tab, identifier: str, password: str) -> None:
    """Step 1 of the login: identifier and password, then "Continuer"."""
    tab.expect_heading(LOGIN_HEADING)
    tab.page.get_by_label("Mon identifiant").fill(identifier)
    tab.page.get_by_label("Mon mot de passe").fill(password)
    tab.submit("Continuer")


def choose_channel(tab, label: str) -> None:
    """Step 2: "Par e-mail" or "Par SMS", then "Recevoir mon code"."""
    tab.expect_heading(CHANNEL_HEADING)
    tab.page.get_by_label(label).check()
    tab.submit("Recevoir mon code")


def enter_code(tab, code: str) -> None:
    """Step 3: the 6-digit code, then "Valider"."""
    tab.page.get_by_label("Code d'accès").fill(code)
    tab.submit("Valider")


def read_access_code(ui, *, email: str | None = None, mobile: str | None = None) -> str:
    """The newest one-time code sent to this address or number, read in the demo outbox."""
    if email:
        return ui.read_outbox(to=email, subject=ACCESS_EMAIL_SUBJECT, pattern=ACCESS_EMAIL_PATTERN)
    return ui.read_outbox(to=mobile, subject=None, pattern=ACCESS_SMS_PATTERN)


def log_in(ui, identifier: str, password: str, *, email: str, start: str = "/connexion/"):
    """The whole login by email code, from the login page of a portal."""
    tab = ui.tab
    tab.visit(start)
    enter_password(tab, identifier, password)
    choose_channel(tab, "Par e-mail")
    tab.expect_heading(CODE_HEADING)
    enter_code(tab, read_access_code(ui, email=email))


def log_out(tab) -> None:
    """ "Se déconnecter", in the account menu of the header."""
    tab.page.locator("details.account-menu > summary").click()
    tab.submit("Se déconnecter")


def not_that(code: str) -> str:
    """A well-formed 6-digit code that is not this one."""
    return f"{(int(code) + 1) % 1_000_000:06d}"
