"""The patient is told that a professional added a document by the channels of their "Nouveau
document" preferences — never which document (DESIGN invariant 7)."""

from datetime import date

import pytest

from carnet.accounts.models import NotificationPreference
from carnet.consent.rules import professional_facts
from carnet.documents.files import file_check
from carnet.documents.models import Category
from carnet.enrollment.selectors import space_for_user
from carnet.notifications.models import OutboxMessage
from carnet.professionals.services import document_add_by_professional
from tests.consent.conftest import _pdf, authorise, make_professional

MOBILE = "+33612345678"
TITLE = "Compte rendu de coloscopie"


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def author(space):
    pro = make_professional("medecin")
    authorise(space, pro)
    return pro


def add(author, space, *, withheld=False):
    return document_add_by_professional(
        user=author.user,
        space=space,
        facts=professional_facts(space, author),
        checked=file_check("cr.pdf", _pdf()),
        title=TITLE,
        category=Category.CPT_REND,
        document_date=date(2026, 11, 2),
        withheld=withheld,
    )


def prefer(user, **values):
    NotificationPreference.objects.update_or_create(user=user, defaults=values)


def notices(kind="nouveau_document"):
    return list(OutboxMessage.objects.filter(kind=kind).values_list("channel", "to"))


def with_mobile(user):
    user.mobile, user.mobile_verified = MOBILE, True
    user.save(update_fields=["mobile", "mobile_verified"])


def test_by_default_an_email_and_no_sms(alice, space, author):
    with_mobile(alice)
    add(author, space)
    assert notices() == [("email", alice.email)]
    mail = OutboxMessage.objects.get(kind="nouveau_document")
    assert TITLE not in mail.body and "coloscopie" not in mail.subject


def test_sms_only_when_chosen(alice, space, author):
    with_mobile(alice)
    prefer(alice, new_document_email=False, new_document_sms=True)
    add(author, space)
    assert notices() == [("sms", MOBILE)]
    assert "coloscopie" not in OutboxMessage.objects.get(kind="nouveau_document").body


def test_both_channels_when_both_chosen(alice, space, author):
    with_mobile(alice)
    prefer(alice, new_document_email=True, new_document_sms=True)
    add(author, space)
    assert sorted(notices()) == [("email", alice.email), ("sms", MOBILE)]


def test_nothing_when_both_are_off(alice, space, author):
    with_mobile(alice)
    prefer(alice, new_document_email=False, new_document_sms=False)
    add(author, space)
    assert notices() == []


def test_a_chosen_channel_not_verified_falls_back_to_the_verified_one(alice, space, author):
    alice.mobile_verified = False
    alice.save(update_fields=["mobile_verified"])
    prefer(alice, new_document_email=False, new_document_sms=True)
    add(author, space)
    assert notices() == [("email", alice.email)]


def test_other_preferences_do_not_apply(alice, space, author):
    prefer(alice, new_message_email=False, appointment_email=False, prevention_email=False)
    add(author, space)
    assert notices() == [("email", alice.email)]


def test_a_withheld_document_is_not_announced(alice, space, author):
    add(author, space, withheld=True)
    assert notices() == []
