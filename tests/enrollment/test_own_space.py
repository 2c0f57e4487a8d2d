"""`own_space`, read by every page of a patient, is one hand-written statement: it must give
exactly the instances the ORM gives (`Space.objects.select_related("person").get(...)`) —
every column of the space and of its person, with the same Python types (aware moments, UUIDs,
dates, booleans), whatever the row holds. Hypothesis draws the rows; run on both databases
(make test, make test-postgres)."""

import gc
import threading
import uuid
import weakref
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from carnet.accounts.models import User
from carnet.enrollment.models import Space
from carnet.enrollment.selectors import own_space
from carnet.registry.models import InsuredPerson
from tests.factories import InsuredPersonFactory

from .helpers import activate, space_of

pytestmark = pytest.mark.django_db

SPACE_MOMENTS = (
    "created_at", "auto_activate_at", "activated_at", "opposed_at", "closed_at",
    "archive_until", "deletion_requested_at", "deletion_due_at", "purged_at",
)  # fmt: skip


def columns(instance) -> dict:
    """Every column's value, with its type: equal values of different types must not agree."""
    return {
        field.attname: (type(value), value)
        for field in type(instance)._meta.concrete_fields
        for value in [getattr(instance, field.attname)]
    }


def orm_space(person_id) -> Space:
    return Space.objects.select_related("person").get(person_id=person_id)


@contextmanager
def rolled_back():
    """One example's changes, gone at its end (the test's rows are not reset between
    hypothesis examples)."""
    savepoint = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)


def test_the_active_space_and_its_person_as_the_orm_reads_them(issue_code):
    user = activate(issue_code(first_name="Élodie", last_name="Nguyễn"))
    space = own_space(user)
    expected = orm_space(user.person_id)
    assert columns(space) == columns(expected)
    assert columns(space.person) == columns(expected.person)
    assert space.person.first_name == "Élodie"
    # Both are rows of the database, as the ORM's: saving updates them, never inserts.
    assert not space._state.adding and not space.person._state.adding
    assert space._state.db == space.person._state.db == "default"
    # The header reads the person from the account, without another query.
    assert user.person is space.person


def test_no_space_for_an_account_without_a_person_or_a_person_without_a_space(
    django_user_model,
):
    pro = django_user_model.objects.create_user(
        identifier="claire.exercice", password="un-mot-de-passe-long", kind=User.Kind.PROFESSIONAL
    )
    assert own_space(pro) is None  # no person
    person = InsuredPersonFactory()  # in the registry, no code issued yet: no space
    patient = django_user_model.objects.create_user(
        identifier="paul.registre", password="un-mot-de-passe-long", person=person
    )
    assert not Space.objects.filter(person=person).exists()
    assert own_space(patient) is None


text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=40)
# Hypothesis takes naive bounds, and makes the moments aware with `timezones`.
moments = st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def rows(draw):
    """A space in any state, with any of its moments set or not, and a person with any
    names, dates and flags the columns hold."""
    space = {name: draw(st.none() | moments) for name in SPACE_MOMENTS if name != "created_at"}
    space["created_at"] = draw(moments)
    space["state"] = draw(st.sampled_from(Space.State.values))
    space["activated_automatically"] = draw(st.booleans())
    space["public_id"] = draw(st.uuids())
    person = {
        "last_name": draw(text.filter(str.strip)),
        "first_name": draw(text),
        "birth_date": draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1))),
        "vitale_photo": draw(st.booleans()),
        "is_demo": draw(st.booleans()),
        "guardian_nirs": draw(text),
        "scheme": draw(text),
    }
    return space, person


def test_any_row_reads_as_through_the_orm(issue_code):
    user = activate(issue_code())
    space_pk, person_pk = space_of(user.person).pk, user.person_id

    @hypothesis_settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(rows())
    def agree(drawn):
        space_values, person_values = drawn
        with rolled_back():
            Space.objects.filter(pk=space_pk).update(**space_values)
            InsuredPerson.objects.filter(pk=person_pk).update(**person_values)
            got = own_space(User.objects.get(pk=user.pk))
            expected = orm_space(person_pk)
            assert columns(got) == columns(expected)
            assert columns(got.person) == columns(expected.person)
            assert isinstance(got.public_id, uuid.UUID)
            assert all(
                getattr(got, name) is None or getattr(got, name).tzinfo is not None
                for name in SPACE_MOMENTS
            )

    agree()


@pytest.mark.django_db(transaction=True)
def test_the_statement_kept_for_a_thread_does_not_keep_its_connection_alive(issue_code):
    """Each thread has its own connection, where the statement is kept: once the thread is
    over, nothing of ours holds the connection (threads of the SMTP gateway, of a server)."""
    user = activate(issue_code())
    seen = []

    def read():
        seen.append(own_space(user).pk)
        seen.append(weakref.ref(connections[DEFAULT_DB_ALIAS]))
        connections.close_all()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    space_pk, connection = seen
    assert space_pk == space_of(user.person).pk
    gc.collect()
    assert connection() is None
