"""The provisional-code email promises only what will happen for the person's state."""

from carnet.enrollment import services
from tests.enrollment.helpers import identify, last_message, reissue


def test_first_code_announces_automatic_creation(issue_code):
    issued = issue_code()
    body = last_message(issued.person.email, "code_provisoire").body
    assert "sera créé automatiquement" in body


def test_new_code_after_opposition_does_not_promise_automatic_creation(issue_code):
    issued = issue_code()
    services.space_oppose(identified=identify(issued.person, issued.code))
    reissue(issued.person)
    body = last_message(issued.person.email, "code_provisoire").body
    assert "sera créé automatiquement" not in body
    assert "aucun espace ne sera créé" in body
