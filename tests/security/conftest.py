"""Accounts of the three kinds, each able to log in through the real views."""

import pytest

from carnet.accounts.models import User
from tests.enrollment.helpers import PASSWORD, activate

from .helpers import OPERATOR_PASSWORD, PRO_PASSWORD, make_user


@pytest.fixture
def patient(issue_code):
    return activate(issue_code(), identifier="alice.martin")


@pytest.fixture
def professional(db):
    return make_user(User.Kind.PROFESSIONAL, "dr.bernard", PRO_PASSWORD)


@pytest.fixture
def operator(db):
    return make_user(User.Kind.OPERATOR, "agent.caisse", OPERATOR_PASSWORD)


@pytest.fixture
def passwords():
    return {
        User.Kind.PATIENT: PASSWORD,
        User.Kind.PROFESSIONAL: PRO_PASSWORD,
        User.Kind.OPERATOR: OPERATOR_PASSWORD,
    }
