"""Identification with the provisional code, lockouts, and "J'ai besoin d'un code"."""

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from carnet.core import clock
from carnet.enrollment import services
from carnet.enrollment.models import ProvisionalCode, Space
from carnet.notifications.models import OutboxMessage
from tests.factories import InsuredPersonFactory, make_nir

from .helpers import (
    CLIENT,
    activate,
    code_in,
    identify,
    last_message,
    reissue,
    reissued_code,
    space_of,
)

pytestmark = pytest.mark.django_db

GENERIC = services.GENERIC_FAILURE
WRONG = {
    "code": lambda p, c: {"code": "Z" * 12},
    "birth_date": lambda p, c: {"birth_date": p.birth_date + timedelta(days=1)},
    "vitale_serial": lambda p, c: {"vitale_serial": "99999999999"},
    "card_model": lambda p, c: {"vitale_photo": not p.vitale_photo},
    "nir": lambda p, c: {"nir": make_nir(1, date(1950, 1, 1), 999, dept="13")},
}


@pytest.mark.parametrize("wrong", list(WRONG))
def test_each_wrong_piece_gives_the_same_generic_message(issue_code, wrong):
    issued = issue_code()
    overrides = WRONG[wrong](issued.person, issued.code)
    code = overrides.pop("code", issued.code)
    with pytest.raises(services.IdentificationError) as excinfo:
        identify(issued.person, code, **overrides)
    assert excinfo.value.kind == "generic"
    assert excinfo.value.message == GENERIC
    # nothing was consumed: the right data still works
    assert identify(issued.person, issued.code).space.state == Space.State.PENDING


def test_another_persons_code_is_refused_generically(issue_code):
    alice, bob = issue_code(), issue_code()
    with pytest.raises(services.IdentificationError) as excinfo:
        identify(alice.person, bob.code)
    assert excinfo.value.message == GENERIC


def test_used_code(issue_code):
    issued = issue_code()
    activate(issued)
    with pytest.raises(services.IdentificationError) as excinfo:
        identify(issued.person, issued.code)
    assert excinfo.value.kind == "activated"  # sent to the login page, not to a new code
    assert "déjà été utilisé" in excinfo.value.message


def test_expired_code(issue_code):
    issued = issue_code()
    with clock.travel(timedelta(weeks=6, days=1)):
        with pytest.raises(services.IdentificationError) as excinfo:
            identify(issued.person, issued.code)
    assert excinfo.value.kind == "expired"
    assert "a expiré le" in excinfo.value.message


def test_code_valid_the_day_before_expiry(issue_code):
    issued = issue_code()
    with clock.travel(timedelta(weeks=6) - timedelta(days=1)):
        assert identify(issued.person, issued.code).person == issued.person


def test_identification_expired_in_between_cannot_activate(issue_code):
    from .helpers import credentials

    issued = issue_code()
    identified = identify(issued.person, issued.code)
    with clock.travel(timedelta(weeks=6, days=1)):
        with pytest.raises(services.TransitionError, match="n'est plus valable"):
            services.space_activate(identified=identified, credentials=credentials(issued.person))
    assert space_of(issued.person).state == Space.State.PENDING


def test_lockout_after_five_failures_per_nir(issue_code):
    issued = issue_code()
    for attempt in range(4):
        with pytest.raises(services.IdentificationError) as excinfo:
            identify(issued.person, issued.code, vitale_serial="99999999999")
        assert excinfo.value.kind == "generic", attempt
    with pytest.raises(services.IdentificationError) as excinfo:
        identify(issued.person, issued.code, vitale_serial="99999999999")
    assert excinfo.value.kind == "locked"  # the fifth failure says so at once
    assert "Trop de tentatives" in excinfo.value.message
    locked_at = clock.now()

    # even the right code, from another address, is refused during the lockout
    with pytest.raises(services.IdentificationError) as excinfo:
        identify(issued.person, issued.code, client="192.0.2.99")
    assert excinfo.value.kind == "locked"
    with clock.travel(timedelta(minutes=59)):
        with pytest.raises(services.IdentificationError):
            identify(issued.person, issued.code)
    with clock.travel(timedelta(hours=1) + (clock.now() - locked_at)):
        assert identify(issued.person, issued.code).person == issued.person


def test_unknown_nir_is_locked_the_same_way():
    nir = make_nir(1, date(1950, 1, 1), 998, dept="13")
    kinds = []
    for _ in range(5):
        with pytest.raises(services.IdentificationError) as excinfo:
            services.identification_check(
                code="A" * 12,
                nir=nir,
                birth_date=date(1950, 1, 1),
                vitale_photo=True,
                vitale_serial="12345678901",
                client=CLIENT,
            )
        kinds.append(excinfo.value.kind)
    assert kinds == ["generic"] * 4 + ["locked"]


def test_twenty_failures_from_one_address_lock_that_address(issue_code):
    victims = [issue_code() for _ in range(5)]
    for issued in victims:  # 4 failures each: no NIR reaches its own limit
        for _ in range(4):
            with pytest.raises(services.IdentificationError):
                identify(issued.person, "Z" * 12, client="203.0.113.5")
    target = issue_code()
    with pytest.raises(services.IdentificationError) as excinfo:
        identify(target.person, target.code, client="203.0.113.5")
    assert excinfo.value.kind == "locked"
    # another address is not concerned
    assert identify(target.person, target.code, client="203.0.113.6").person == target.person
    with clock.travel(timedelta(hours=1, seconds=1)):
        assert identify(target.person, target.code, client="203.0.113.5")


def test_success_resets_the_nir_counter(issue_code):
    issued = issue_code()
    for _ in range(4):
        with pytest.raises(services.IdentificationError):
            identify(issued.person, "Z" * 12)
    identify(issued.person, issued.code)
    for _ in range(4):
        with pytest.raises(services.IdentificationError) as excinfo:
            identify(issued.person, "Z" * 12)
        assert excinfo.value.kind == "generic"


# --- "J'ai besoin d'un code" -----------------------------------------------------------------


def _new_code_form(person, **overrides):
    data = {
        "nir": person.nir,
        "birth_date": person.birth_date.strftime("%d/%m/%Y"),
        "card_model": "avec_photo" if person.vitale_photo else "sans_photo",
        "vitale_serial": person.vitale_serial,
    }
    data.update(overrides)
    return data


def _strip_csrf(html: str) -> str:
    import re

    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def test_new_code_page_answers_the_same_whatever_the_input(issue_code):
    known = issue_code()
    stranger = InsuredPersonFactory.build(nir=make_nir(1, date(1961, 2, 3), 5, dept="33"))
    answers = []
    for data in (
        _new_code_form(known.person),
        _new_code_form(stranger),
        _new_code_form(known.person, birth_date="01/01/1990"),
    ):
        client = Client()
        response = client.post("/activer/nouveau-code/", data)
        assert response.status_code == 302
        page = client.get(response["Location"])
        answers.append((response["Location"], _strip_csrf(page.content.decode())))
    assert answers[0] == answers[1] == answers[2]
    assert ProvisionalCode.objects.filter(person=known.person).count() == 2


def test_new_code_goes_by_email_and_never_on_screen(issue_code):
    issued = issue_code(email="alice@exemple.fr")
    client = Client()
    response = client.post("/activer/nouveau-code/", _new_code_form(issued.person), follow=True)
    message = last_message("alice@exemple.fr", "code_provisoire")
    code = code_in(message)
    assert code != issued.code
    assert message.channel == OutboxMessage.Channel.EMAIL
    assert code not in response.content.decode()
    latest = ProvisionalCode.objects.filter(person=issued.person).first()
    assert latest.channel == ProvisionalCode.Channel.EMAIL


def test_new_code_goes_by_sms_without_email(issue_code):
    issued = issue_code(email="", mobile="+33611223344")
    response = Client().post("/activer/nouveau-code/", _new_code_form(issued.person), follow=True)
    message = last_message("+33611223344", "code_provisoire")
    assert message.channel == OutboxMessage.Channel.SMS
    assert code_in(message) not in response.content.decode()
    assert ProvisionalCode.objects.filter(person=issued.person).first().channel == "sms"


def test_new_code_goes_by_letter_without_email_or_mobile(issue_code):
    issued = issue_code(email="", mobile="")
    letters_before = set(Path(settings.LETTERS_DIR).glob("*.pdf"))
    outbox_before = OutboxMessage.objects.count()
    Client().post("/activer/nouveau-code/", _new_code_form(issued.person))
    letters = set(Path(settings.LETTERS_DIR).glob("*.pdf")) - letters_before
    assert len(letters) == 1
    [letter] = letters
    assert letter.read_bytes().startswith(b"%PDF")
    assert letter.stat().st_mode & 0o777 == 0o600
    assert OutboxMessage.objects.count() == outbox_before
    assert ProvisionalCode.objects.filter(person=issued.person).first().channel == "courrier"


def test_new_code_revokes_the_previous_unused_code(issue_code):
    issued = issue_code()
    new_code = reissued_code(issued.person)
    old = ProvisionalCode.objects.filter(person=issued.person).order_by("sent_at", "id").first()
    assert old.revoked_at is not None
    with pytest.raises(services.IdentificationError) as excinfo:
        identify(issued.person, issued.code)
    assert excinfo.value.kind == "expired"
    assert "remplacé" in excinfo.value.message
    assert identify(issued.person, new_code).person == issued.person


def test_no_new_code_for_a_person_who_has_a_login(issue_code):
    issued = issue_code()
    activate(issued)
    count = ProvisionalCode.objects.filter(person=issued.person).count()
    reissue(issued.person)
    assert ProvisionalCode.objects.filter(person=issued.person).count() == count


def test_new_code_after_opposition_following_automatic_creation_reactivates(issue_code):
    """The opposition email promises that a new code lets the person change their mind."""
    from .helpers import credentials

    issued = issue_code()
    with clock.travel(timedelta(weeks=6)):
        services.spaces_auto_create()
        services.space_oppose(identified=identify(issued.person, reissued_code(issued.person)))
    assert space_of(issued.person).state == Space.State.CLOSED
    with clock.travel(timedelta(weeks=8)):
        identified = identify(issued.person, reissued_code(issued.person))
        services.space_activate(identified=identified, credentials=credentials(issued.person))
    space = space_of(issued.person)
    assert space.state == Space.State.ACTIVE
    assert space.archive_until is None and space.closed_at is None


def test_failed_new_code_requests_count_towards_the_lockout(issue_code):
    issued = issue_code()
    for _ in range(5):
        reissue(issued.person, vitale_serial="99999999999")
    with pytest.raises(services.IdentificationError) as excinfo:
        identify(issued.person, issued.code)
    assert excinfo.value.kind == "locked"
    response = Client().post("/activer/nouveau-code/", _new_code_form(issued.person))
    assert response.status_code == 200
    assert "Trop de tentatives" in response.content.decode()
