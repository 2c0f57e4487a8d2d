"""Security properties of the enrollment flow (OWASP ASVS L2): fixation, CSRF, caching,
enumeration, secrets kept hashed."""

import html
import re
from datetime import date

import pytest
from django.conf import settings
from django.test import Client

from carnet.core import crypto
from carnet.enrollment import services
from carnet.enrollment.models import ContactCheck, ProvisionalCode
from tests.factories import InsuredPersonFactory, make_nir

from .helpers import code_in, last_message
from .wizard import identify_form, post_identify, to_contacts, to_decision

pytestmark = pytest.mark.django_db


def _failure_block(response) -> str:
    page = html.unescape(response.content.decode())
    return re.search(r'<div class="error-summary".*?</div>', page, re.S).group(0)


def test_session_id_changes_once_identified(client, issue_code):
    issued = issue_code()
    client.get("/activer/")
    client.post("/activer/", identify_form(issued.person, "Z" * 12))  # a session now exists
    before = client.cookies[settings.SESSION_COOKIE_NAME].value
    to_decision(client, issued)
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert before != after


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/activer/", {}),
        ("/activer/nouveau-code/", {}),
        ("/connexion/", {"identifier": "x", "password": "y"}),
    ],
)
def test_posts_without_csrf_token_are_refused(url, data):
    assert Client(enforce_csrf_checks=True).post(url, data).status_code == 403


@pytest.mark.parametrize(
    "url", ["/activer/", "/activer/decision/", "/activer/coordonnees/", "/activer/identifiant/"]
)
def test_wizard_pages_are_not_cached(client, issue_code, url):
    issued = issue_code()
    to_contacts(client, issued)
    response = client.get(url)
    assert "no-store" in response["Cache-Control"], url


def test_failed_identification_keeps_what_was_typed_but_not_the_code(client, issue_code):
    issued = issue_code()
    response = post_identify(client, issued.person, issued.code, vitale_serial="99999999999")
    page = response.content.decode()
    assert issued.code not in page
    assert issued.person.nir in page  # the person need not type it again


def test_known_and_unknown_nir_fail_identically(issue_code):
    known = issue_code()
    stranger = InsuredPersonFactory.build(nir=make_nir(1, date(1961, 2, 3), 5, dept="33"))
    wrong_serial = post_identify(Client(), known.person, known.code, vitale_serial="99999999999")
    unknown = post_identify(Client(), stranger, known.code)
    assert wrong_serial.status_code == unknown.status_code == 200
    assert _failure_block(wrong_serial) == _failure_block(unknown)
    assert services.GENERIC_FAILURE in _failure_block(unknown)


def test_provisional_and_contact_codes_are_stored_as_keyed_hashes(client, issue_code):
    issued = issue_code()
    [stored] = ProvisionalCode.objects.filter(person=issued.person)
    assert stored.code_hash == crypto.keyed_hash(issued.code, purpose="provisional-code")
    assert issued.code not in stored.code_hash
    to_contacts(client, issued)
    client.post("/activer/coordonnees/", {"email": "autre@exemple.fr", "mobile": ""})
    code = code_in(last_message("autre@exemple.fr", "verification"), length=6)
    [check] = ContactCheck.objects.filter(person=issued.person)
    assert check.code_hash == crypto.keyed_hash(code, purpose="contact-check")
    assert len(check.code_hash) == 64


def test_hash_purposes_are_separated():
    assert crypto.keyed_hash("123456", purpose="provisional-code") != crypto.keyed_hash(
        "123456", purpose="contact-check"
    )


def test_a_code_from_one_person_never_identifies_another(issue_code):
    alice, bob = issue_code(), issue_code()
    with pytest.raises(services.IdentificationError):
        services.identification_check(
            code=alice.code,
            nir=bob.person.nir,
            birth_date=bob.person.birth_date,
            vitale_photo=bob.person.vitale_photo,
            vitale_serial=bob.person.vitale_serial,
            client="192.0.2.1",
        )
