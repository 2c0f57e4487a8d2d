"""Writing the trail is cheap and safe under concurrency; reading a space's history is indexed."""

import threading
from uuid import uuid4

import pytest
from django.db import connection

from carnet.audit.models import ChainHead, Event
from carnet.audit.services import Entry, chains_verify, events_record

# Inside a test the recording's transaction is a savepoint: SAVEPOINT and RELEASE are counted.
SAVEPOINT = 2


def _entry(space_id=None, **kwargs):
    return Entry(actor="usager:test", action="test", space_id=space_id, **kwargs)


@pytest.mark.django_db
def test_one_event_on_an_existing_chain_costs_one_insert(django_assert_num_queries):
    space = uuid4()
    events_record([_entry(space)])
    # lock the head, insert the event, move the head
    with django_assert_num_queries(3 + SAVEPOINT):
        events_record([_entry(space)])


@pytest.mark.django_db
def test_the_first_event_of_a_chain_costs_one_insert(django_assert_num_queries):
    # look for the head, insert the head, insert the event
    with django_assert_num_queries(3 + SAVEPOINT):
        events_record([_entry(uuid4())])


@pytest.mark.django_db
def test_a_batch_costs_the_same_as_one_event(django_assert_num_queries):
    spaces = [uuid4() for _ in range(10)]
    events_record([_entry(s) for s in spaces])
    batch = [_entry(spaces[i % 10]) for i in range(50)]
    with django_assert_num_queries(3 + SAVEPOINT):
        events_record(batch)
    # new and existing chains mixed: one more insert, for the new heads
    with django_assert_num_queries(4 + SAVEPOINT):
        events_record([_entry(s) for s in [*spaces, uuid4(), uuid4()]])
    assert chains_verify() == []


@pytest.mark.django_db
def test_a_space_history_is_indexed():
    """The two reads of a space's history (accounts.selectors.activity_events) have an index
    that both filters and orders."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Event._meta.db_table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"]}
    assert ("space_id", "at", "id") in indexed
    assert ("space_id", "object_type", "at", "id") in indexed
    if connection.vendor == "sqlite":  # without statistics PostgreSQL scans small tables
        history = Event.objects.filter(space_id=uuid4()).order_by("-at", "-id")[:50]
        documents = Event.objects.filter(space_id=uuid4(), object_type="document").order_by(
            "-at", "-id"
        )[:50]
        for query, index in [
            (history, "audit_event_space_at_idx"),
            (documents, "audit_event_space_type_idx"),
        ]:
            plan = query.explain()
            assert index in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # the index gives the order: no sort


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_events_of_a_new_chain_are_all_kept():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, no two can open a chain")
    writers, rounds = 6, 5
    errors = []
    for _ in range(rounds):
        space = uuid4()
        barrier = threading.Barrier(writers)

        def write(space=space, barrier=barrier):
            try:
                barrier.wait()
                events_record([_entry(space)])
            except Exception as exc:  # reported below: a thread's exception is otherwise lost
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        seqs = sorted(Event.objects.filter(chain=str(space)).values_list("seq", flat=True))
        assert seqs == list(range(1, writers + 1))
        assert ChainHead.objects.get(chain=str(space)).seq == writers
    assert chains_verify() == []
