"""Fixtures of the linked-profile tests: minors the registry links to Alice, their codes
issued through the real service (so they reach her, the first legal representative)."""

import itertools
from dataclasses import dataclass
from datetime import date

import pytest

from carnet.enrollment import services
from tests.factories import InsuredPersonFactory, make_nir

_orders = itertools.count(500)


@dataclass
class Child:
    person: object
    code: str


def make_child(*representatives, first_name="Léa", birth_date=date(2015, 3, 14), **fields):
    person = InsuredPersonFactory(
        first_name=first_name,
        last_name="MARTIN",
        birth_date=birth_date,
        nir=make_nir(2, birth_date, next(_orders)),
        guardian_nirs="|".join(r.nir for r in representatives),
        email="",
        mobile="",
        **fields,
    )
    [(person, code, _)] = services.codes_issue([person])
    return Child(person=person, code=code)


@pytest.fixture
def child(alice):
    """Léa, 11, whose first legal representative is Alice."""
    return make_child(alice.person)
