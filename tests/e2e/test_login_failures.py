"""Login when it goes wrong: wrong, expired, replayed and burnt codes, the limit on new codes,
one message for a wrong identifier or password, and the lock-out of an identifier."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from carnet.accounts.models import OneTimeCode
from carnet.core import clock
from tests.enrollment.helpers import PASSWORD, activate

from . import steps

pytestmark = pytest.mark.e2e

EMAIL = "alice.martin@exemple.fr"
EXPIRED_LOGIN = "Votre connexion a expiré : identifiez-vous à nouveau."
TOO_MANY_CODES = (
    "Vous avez demandé trop de codes. Par sécurité, patientez 15 minutes avant d'en demander "
    "un nouveau."
)
LOCKED = "Trop de tentatives infructueuses. Par sécurité, réessayez dans 15 minutes."


@pytest.fixture
def alice(issue_code):
    issued = issue_code(first_name="Alice", email=EMAIL, mobile="+33612345678")
    return activate(issued, identifier="alice.martin")


def reach_code_step(ui, *, channel="Par e-mail"):
    tab = ui.tab
    tab.visit("/connexion/")
    steps.enter_password(tab, "alice.martin", PASSWORD)
    steps.choose_channel(tab, channel)
    tab.expect_heading(steps.CODE_HEADING)


def expect_code_error(tab, message: str):
    tab.expect_heading(steps.CODE_HEADING)
    steps.expect_field_error(tab, "Code d'accès", message)


def test_wrong_code_then_the_right_one(ui, alice):
    reach_code_step(ui)
    tab = ui.tab
    code = steps.read_access_code(ui, email=EMAIL)

    tab.submit("Valider")  # empty
    expect_code_error(tab, "Saisissez le code reçu.")
    steps.enter_code(tab, "12a456")
    expect_code_error(tab, "Le code ne contient que des chiffres.")
    steps.enter_code(tab, steps.not_that(code))
    expect_code_error(tab, "Code incorrect. Il vous reste 4 essai(s).")
    tab.snap("code-incorrect")

    steps.enter_code(tab, code)
    tab.expect_heading("Bienvenue Alice")


def test_sixth_code_is_refused_after_five_wrong_ones(ui, alice):
    reach_code_step(ui)
    tab = ui.tab
    code = steps.read_access_code(ui, email=EMAIL)
    wrong = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 6)]
    for left, attempt in zip((4, 3, 2, 1), wrong, strict=False):
        steps.enter_code(tab, attempt)
        expect_code_error(tab, f"Code incorrect. Il vous reste {left} essai(s).")
    steps.enter_code(tab, wrong[4])
    expect_code_error(tab, "Code incorrect. Trop de codes erronés : demandez un nouveau code.")

    # the sixth try, even with the right code, is refused: the code is burnt
    steps.enter_code(tab, code)
    expect_code_error(tab, "Trop de codes erronés : demandez un nouveau code.")
    tab.snap("code-trop-d-essais")

    tab.submit("Renvoyer un code")
    tab.expect_heading(steps.CODE_HEADING)
    expect(tab.page.get_by_role("status")).to_contain_text("Un nouveau code vous a été envoyé.")
    new_code = steps.read_access_code(ui, email=EMAIL)
    steps.enter_code(tab, code)  # the old code is dead for good
    expect_code_error(tab, "Code incorrect. Il vous reste 4 essai(s).")
    steps.enter_code(tab, new_code)
    tab.expect_heading("Bienvenue Alice")


def test_resend_is_limited_to_three_codes_per_fifteen_minutes(ui, alice):
    reach_code_step(ui, channel="Par SMS")  # code 1
    tab = ui.tab
    first = steps.read_access_code(ui, mobile=alice.mobile)
    tab.submit("Renvoyer un code")  # code 2
    expect(tab.page.get_by_role("status")).to_contain_text("Un nouveau code vous a été envoyé.")
    tab.submit("Renvoyer un code")  # code 3
    expect(tab.page.get_by_role("status")).to_contain_text("Un nouveau code vous a été envoyé.")
    third = steps.read_access_code(ui, mobile=alice.mobile)

    tab.submit("Renvoyer un code")  # a fourth is refused
    tab.expect_heading(steps.CODE_HEADING)
    expect(tab.page.get_by_role("status")).to_contain_text(TOO_MANY_CODES)
    expect(tab.page.get_by_role("status")).not_to_contain_text("Un nouveau code")
    tab.snap("code-trop-de-demandes")
    assert OneTimeCode.objects.filter(user=alice).count() == 3
    # choosing another channel does not get round the limit
    tab.follow("Choisir un autre mode de réception")
    steps.choose_channel(tab, "Par e-mail")
    tab.expect_heading(steps.CHANNEL_HEADING)
    expect(tab.page.get_by_role("alert")).to_contain_text(TOO_MANY_CODES)
    assert OneTimeCode.objects.filter(user=alice).count() == 3

    # only the newest code is valid
    tab.visit("/connexion/code/")
    if first != third:  # two random codes are the same once in a million
        steps.enter_code(tab, first)
        expect_code_error(tab, "Code incorrect. Il vous reste 4 essai(s).")
    steps.enter_code(tab, third)
    tab.expect_heading("Bienvenue Alice")


def test_expired_login_step_starts_again(ui, alice, settings):
    """When the login started with the password has expired (here set as short as the code),
    the person starts again; a new code then works."""
    settings.CARNET = {**settings.CARNET, "PENDING_LOGIN_VALIDITY": timedelta(minutes=15)}
    reach_code_step(ui)
    tab = ui.tab
    code = steps.read_access_code(ui, email=EMAIL)
    with clock.travel(timedelta(minutes=15, seconds=1)):
        steps.enter_code(tab, code)
        tab.expect_heading(steps.LOGIN_HEADING)
        expect(tab.page.get_by_role("status")).to_contain_text(EXPIRED_LOGIN)
        tab.snap("connexion-expiree")
        assert OneTimeCode.objects.get().used_at is None

        steps.enter_password(tab, "alice.martin", PASSWORD)
        steps.choose_channel(tab, "Par e-mail")
        steps.enter_code(tab, code)  # the old code does not come back to life
        expect_code_error(tab, "Code incorrect. Il vous reste 4 essai(s).")
        fresh = steps.read_access_code(ui, email=EMAIL)

        # well within its 15 minutes, the new code is good
        with clock.travel(timedelta(minutes=14)):
            steps.enter_code(tab, fresh)
            tab.expect_heading("Bienvenue Alice")


def test_expired_code_says_so_and_a_new_one_works(ui, alice):
    """The login step (30 minutes) outlives the code (15): the code's own expiry is shown."""
    reach_code_step(ui)
    tab = ui.tab
    code = steps.read_access_code(ui, email=EMAIL)
    clock.set_offset(timedelta(minutes=15, seconds=1))
    steps.enter_code(tab, code)
    expect_code_error(tab, "Ce code a expiré : demandez un nouveau code.")
    tab.snap("code-expire")
    tab.submit("Renvoyer un code")
    expect(tab.page.get_by_role("status")).to_contain_text("Un nouveau code vous a été envoyé.")
    steps.enter_code(tab, steps.read_access_code(ui, email=EMAIL))
    tab.expect_heading("Bienvenue Alice")


def test_a_used_code_cannot_be_replayed_from_another_browser(ui, other_ui, alice):
    """Someone who knows the password and catches the code cannot use it after the owner."""
    owner, intruder = ui.tab, other_ui.tab
    owner.visit("/connexion/")
    steps.enter_password(owner, "alice.martin", PASSWORD)
    intruder.visit("/connexion/")
    steps.enter_password(intruder, "alice.martin", PASSWORD)
    steps.choose_channel(intruder, "Par e-mail")
    steps.choose_channel(owner, "Par e-mail")  # the newest code, replacing the other
    code = steps.read_access_code(ui, email=EMAIL)

    steps.enter_code(owner, code)
    owner.expect_heading("Bienvenue Alice")
    steps.enter_code(intruder, code)
    expect_code_error(intruder, "Ce code n'est plus valable : demandez un nouveau code.")
    intruder.snap("code-deja-utilise")
    intruder.visit("/")
    expect(intruder.page.get_by_role("heading", name="Bonjour Alice")).to_have_count(0)

    # after logging out, the code used for this session does not open a new one
    steps.log_out(owner)
    steps.enter_password(owner, "alice.martin", PASSWORD)
    steps.choose_channel(owner, "Par e-mail")
    steps.enter_code(owner, code)
    expect_code_error(owner, "Code incorrect. Il vous reste 4 essai(s).")


def test_wrong_identifier_and_wrong_password_read_the_same(ui, alice):
    tab = ui.tab
    tab.visit("/connexion/")
    steps.enter_password(tab, "alice.martin", "pas le bon mot de passe")
    tab.expect_heading(steps.LOGIN_HEADING)
    alert = tab.page.get_by_role("alert")
    expect(alert).to_contain_text(steps.LOGIN_FAILED)
    expect(tab.page.locator("[aria-invalid=true]")).to_have_count(0)
    expect(tab.page.get_by_label("Mon mot de passe")).to_have_value("")
    tab.snap("connexion-refusee")
    wrong_password = (tab.page.title(), alert.inner_text())

    steps.enter_password(tab, "bob.inconnu", PASSWORD)
    alert = tab.page.get_by_role("alert")
    expect(alert).to_contain_text(steps.LOGIN_FAILED)
    expect(tab.page.locator("[aria-invalid=true]")).to_have_count(0)
    assert (tab.page.title(), alert.inner_text()) == wrong_password
    assert not OneTimeCode.objects.exists()

    # empty fields are the only errors shown next to their field
    tab.page.get_by_label("Mon identifiant").fill("")
    tab.submit("Continuer")
    steps.expect_field_error(tab, "Mon identifiant", "Saisissez votre identifiant.")
    steps.expect_field_error(tab, "Mon mot de passe", "Saisissez votre mot de passe.")
    tab.snap("connexion-champs-vides")


@pytest.fixture
def fast_hasher(settings):
    """Ten failed logins hash ten passwords; a fast hasher keeps the lock-out test quick
    (the Argon2 cost is measured by bench/login.py and the timing test)."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


def test_ten_failures_lock_the_identifier_for_fifteen_minutes(ui, fast_hasher, alice):
    tab = ui.tab
    tab.visit("/connexion/")
    for attempt in range(1, 11):
        steps.enter_password(tab, "alice.martin", f"mauvais mot de passe {attempt}")
        alert = tab.page.get_by_role("alert")
        if attempt < 10:
            expect(alert).to_contain_text(steps.LOGIN_FAILED)
    expect(alert).to_contain_text(LOCKED)
    expect(alert).not_to_contain_text(steps.LOGIN_FAILED)
    tab.snap("connexion-bloquee")

    # even the right password is refused while locked, on any browser
    steps.enter_password(tab, "alice.martin", PASSWORD)
    expect(tab.page.get_by_role("alert")).to_contain_text(LOCKED)
    tab.page.context.clear_cookies()
    tab.visit("/connexion/")
    steps.enter_password(tab, "alice.martin", PASSWORD)
    expect(tab.page.get_by_role("alert")).to_contain_text(LOCKED)

    clock.set_offset(timedelta(minutes=14))
    steps.enter_password(tab, "alice.martin", PASSWORD)
    expect(tab.page.get_by_role("alert")).to_contain_text(LOCKED)

    # fifteen minutes after the tenth failure, the lock ends
    clock.set_offset(timedelta(minutes=15, seconds=1))
    steps.enter_password(tab, "alice.martin", PASSWORD)
    steps.choose_channel(tab, "Par e-mail")
    steps.enter_code(tab, steps.read_access_code(ui, email=EMAIL))
    tab.expect_heading("Bienvenue Alice")
