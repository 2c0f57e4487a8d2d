"""Fixtures for enrollment tests: a space in each state of its life cycle, built by the services."""

import pytest

from carnet.enrollment import services

from .helpers import activate, identify, reissued_code, space_of

STATES = ["pending", "active", "opposed", "closed", "purged"]


@pytest.fixture
def space_in(issue_code):
    """Return a factory: state name -> (space, issued, user or None), built through services."""

    def make(state: str, **person):
        issued = issue_code(**person)
        user = None
        if state == "opposed":
            services.space_oppose(identified=identify(issued.person, issued.code))
        elif state in ("active", "closed", "purged"):
            user = activate(issued)
            if state in ("closed", "purged"):
                services.space_close(
                    space=space_of(issued.person), actor=user.actor, confirmed=True
                )
            if state == "purged":
                services.space_purge(space=space_of(issued.person))
        space = space_of(issued.person)
        assert space.state == state
        return space, issued, user

    return make


@pytest.fixture
def opposed_then_new_code(issue_code):
    """A person who opposed, then asked for a new code: returns (issued, new code)."""
    issued = issue_code()
    services.space_oppose(identified=identify(issued.person, issued.code))
    return issued, reissued_code(issued.person)
