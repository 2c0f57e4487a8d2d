"""Automatic creation: six weeks after the code was sent, a pending space becomes active."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from carnet.audit.models import Event
from carnet.audit.services import chains_verify
from carnet.core import clock
from carnet.enrollment import services
from carnet.enrollment.models import ProvisionalCode, Space
from tests.factories import InsuredPersonFactory

from .helpers import at, credentials, identify, reissued_code, space_of, transitions

SIX_WEEKS = timedelta(weeks=6)


def _sentat(person):
    return ProvisionalCode.objects.filter(person=person).order_by("sent_at").first().sent_at


@pytest.mark.django_db
def test_not_created_one_second_before_six_weeks(issue_code):
    issued = issue_code()
    at(_sentat(issued.person) + SIX_WEEKS - timedelta(seconds=1))
    assert services.spaces_auto_create() == 0
    assert space_of(issued.person).state == Space.State.PENDING


@pytest.mark.django_db
def test_created_at_exactly_six_weeks_and_says_why(issue_code):
    issued = issue_code()
    sent_at = _sentat(issued.person)
    at(sent_at + SIX_WEEKS)
    assert services.spaces_auto_create() == 1
    space = space_of(issued.person)
    assert space.state == Space.State.ACTIVE
    assert space.activated_automatically
    assert space.activated_at >= sent_at + SIX_WEEKS
    [event] = Event.objects.filter(space_id=space.public_id, action="espace_transition")
    assert event.actor == "systeme:tick"
    assert (event.detail["de"], event.detail["vers"]) == ("pending", "active")
    assert "creation automatique" in event.detail["motif"]
    assert "6 semaines" in event.detail["motif"]


@pytest.mark.django_db
def test_running_twice_creates_nothing_twice(issue_code):
    issued = [issue_code() for _ in range(3)]
    opposed = issue_code()
    services.space_oppose(identified=identify(opposed.person, opposed.code))
    with clock.travel(SIX_WEEKS):
        assert services.spaces_auto_create(batch_size=2) == 3
        assert services.spaces_auto_create() == 0
    for item in issued:
        assert transitions(space_of(item.person)) == [("pending", "active")]
    assert space_of(opposed.person).state == Space.State.OPPOSED
    assert chains_verify() == []


@pytest.mark.django_db
def test_tick_runs_the_automatic_creation(issue_code):
    issued = issue_code()
    out = StringIO()
    with clock.travel(SIX_WEEKS):
        call_command("tick", stdout=out)
        call_command("tick", stdout=out)
    assert out.getvalue().count("creation_automatique: 1") == 1
    assert out.getvalue().count("creation_automatique: 0") == 1
    assert transitions(space_of(issued.person)) == [("pending", "active")]


@pytest.mark.django_db
def test_login_created_later_with_a_new_code(issue_code):
    issued = issue_code()
    with clock.travel(SIX_WEEKS + timedelta(days=2)):
        services.spaces_auto_create()
        with pytest.raises(services.IdentificationError) as excinfo:
            identify(issued.person, issued.code)
        assert excinfo.value.kind == "expired"

        new_code = reissued_code(issued.person)
        identified = identify(issued.person, new_code)
        assert identified.space.state == Space.State.ACTIVE
        user = services.space_activate(
            identified=identified, credentials=credentials(issued.person)
        )
    space = space_of(issued.person)
    assert space.state == Space.State.ACTIVE
    assert user.person_id == issued.person.pk
    assert transitions(space) == [("pending", "active")]  # no second activation
    assert Event.objects.filter(space_id=space.public_id, action="compte_cree").count() == 1


@pytest.mark.django_db
def test_new_code_postpones_the_automatic_creation_to_its_own_deadline(issue_code):
    """The new code's message says « sans opposition à cette date » with the new deadline."""
    issued = issue_code()
    with clock.travel(timedelta(weeks=5)):
        reissued_code(issued.person)
        reissued_at = clock.now()
    at(_sentat(issued.person) + SIX_WEEKS)
    assert services.spaces_auto_create() == 0
    at(reissued_at + SIX_WEEKS + timedelta(seconds=1))
    assert services.spaces_auto_create() == 1


# --- Concurrency (PostgreSQL only) ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_create_nothing_twice():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: select_for_update(skip_locked) is a no-op on SQLite, whose "
            "writers are serialised anyway"
        )
    persons = InsuredPersonFactory.create_batch(300)
    for start in range(0, len(persons), 100):
        services.codes_issue(persons[start : start + 100])
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait()
            results.append(services.spaces_auto_create(batch_size=7))
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    with clock.travel(SIX_WEEKS):
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sum(results) == 300
    assert Space.objects.filter(state=Space.State.ACTIVE).count() == 300
    events = Event.objects.filter(action="espace_transition", actor="systeme:tick")
    assert events.count() == 300
    assert len(set(events.values_list("space_id", flat=True))) == 300
    assert chains_verify() == []
