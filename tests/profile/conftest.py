"""Fixtures of the profile tests: patients with an active space, logged in through the client."""

import html
import re

import pytest

from carnet.accounts.models import User
from tests.enrollment.helpers import PASSWORD, activate


@pytest.fixture
def alice(issue_code):
    """An active patient born on 17 May 1980 (the factory's birth date)."""
    issued = issue_code(first_name="Alice", email="alice.martin@exemple.fr")
    return activate(issued, identifier="alice.martin")


@pytest.fixture
def bob(issue_code):
    """Another active patient, with his own space."""
    issued = issue_code(first_name="Bob", email="bob.durand@exemple.fr")
    return activate(issued, identifier="bob.durand")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def professional(db):
    return User.objects.create_user(
        "dr.bernard.pro",
        PASSWORD,
        kind=User.Kind.PROFESSIONAL,
        email="dr.bernard@exemple.fr",
        email_verified=True,
    )


def field_error(page: str, field: str) -> str | None:
    """The text of the error shown next to the field (unescaped), or None."""
    found = re.search(
        rf'<p class="error-message" id="id_{field}-erreur">(.*?)</p>', page, re.DOTALL
    )
    return html.unescape(found.group(1)).strip() if found else None


def is_invalid(html: str, field: str) -> bool:
    """The input (or the first input of a partial date) is marked aria-invalid."""
    for input_id in (f"id_{field}", f"id_{field}_0"):
        tag = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{input_id}"[^>]*>', html)
        if tag:
            return 'aria-invalid="true"' in tag.group(0)
    return False
