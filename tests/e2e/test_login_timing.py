"""Identifier enumeration by timing: a wrong password for an existing identifier and any
password for an unknown one must cost the same (one Argon2 hash each), not only read the same.

Plain HTTP (Django's test client) is enough here and keeps the browser's noise out of the
figures; the real Argon2 hasher of the settings is used.
"""

import statistics
import time

import pytest
from django.conf import settings
from django.test import Client

from tests.enrollment.helpers import activate

from . import steps

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

ROUNDS = 10
FACTOR = 3  # generous: the two medians differ by the cost of a query or two, not of a hash


def _timed_login(identifier: str, password: str, address: str) -> float:
    client = Client(REMOTE_ADDR=address)
    started = time.perf_counter()
    response = client.post("/connexion/", {"identifier": identifier, "password": password})
    seconds = time.perf_counter() - started
    assert response.status_code == 200
    assert steps.LOGIN_FAILED in response.content.decode().replace("&#x27;", "'")
    return seconds


def test_unknown_identifier_and_wrong_password_take_the_same_time(issue_code):
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    # two existing accounts share the failures, so that none reaches the lock-out (10)
    known = [activate(issue_code(), identifier=f"compte.existant.{n}").identifier for n in range(2)]
    existing, unknown = [], []
    for n in range(ROUNDS + 1):  # the first round warms up and is not counted
        address = f"192.0.2.{n + 1}"
        tries = [
            (existing, known[n % 2], "mauvais mot de passe"),
            (unknown, f"compte.inconnu.{n}", "mauvais mot de passe"),
        ]
        if n % 2:
            tries.reverse()  # alternate which goes first
        for figures, identifier, password in tries:
            seconds = _timed_login(identifier, password, address)
            if n:
                figures.append(seconds)
    existing_median = statistics.median(existing)
    unknown_median = statistics.median(unknown)
    ratio = max(existing_median, unknown_median) / min(existing_median, unknown_median)
    print(
        f"median wrong password {existing_median * 1000:.1f} ms, "
        f"unknown identifier {unknown_median * 1000:.1f} ms, ratio {ratio:.2f}"
    )
    assert ratio < FACTOR, (existing, unknown)
