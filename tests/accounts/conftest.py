"""Fixtures for the account tests: an activated patient, logged in through the real steps."""

import pytest
from django.test import Client

from tests.enrollment.helpers import activate

from .helpers import log_in


@pytest.fixture
def holder(issue_code):
    """An activated patient with a verified email and mobile, and an active space."""
    return activate(issue_code(first_name="Alice", last_name="Martin"), identifier="alice.martin")


@pytest.fixture
def logged_in(holder):
    """(client, user): the holder, logged in."""
    client = Client(HTTP_USER_AGENT="Navigateur de test A")
    log_in(client, holder.identifier)
    return client, holder


@pytest.fixture
def many_codes(settings):
    """Journeys that need more codes than OTP_MAX_SENDS per window (each login takes one)."""
    settings.CARNET = {**settings.CARNET, "OTP_MAX_SENDS": 50}
