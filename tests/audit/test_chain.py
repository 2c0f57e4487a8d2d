"""The audit trail is append-only and hash-chained: any edit, deletion or cut is detected."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from carnet.audit.models import AppendOnlyError, ChainHead, Event
from carnet.audit.services import chains_verify, event_record
from carnet.enrollment import services
from tests.enrollment.helpers import activate, space_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(issue_code):
    """One space's chain of several events: issued, activated, closed, reopened."""
    issued = issue_code()
    user = activate(issued)
    space = space_of(issued.person)
    services.space_close(space=space, actor=user.actor, confirmed=True)
    services.space_reopen(space=space, actor=user.actor)
    events = list(Event.objects.filter(chain=str(space.public_id)).order_by("seq"))
    assert len(events) >= 5
    assert chains_verify() == []
    return events


def _verify_command_fails() -> str:
    err = StringIO()
    with pytest.raises(CommandError, match="anomalie"):
        call_command("audit", "verify", stderr=err)
    return err.getvalue()


def test_a_clean_trail_verifies(chain):
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "trace d'audit intègre" in out.getvalue()
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))


def test_events_are_chained_per_space_and_the_service_chain(chain):
    event_record(actor="operateur:1", action="export")
    assert Event.objects.get(chain="service").seq == 1
    assert chains_verify() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("detail", {"de": "active", "vers": "purged", "motif": "falsifié"}),
        ("actor", "usager:quelquun-d-autre"),
        ("action", "autre_chose"),
        ("client", "10.0.0.1"),
    ],
)
def test_an_edited_row_is_detected(chain, field, value):
    target = chain[2]
    Event.objects.filter(pk=target.pk).update(**{field: value})
    problems = chains_verify()
    assert any(f"n° {target.seq} a été modifié" in p for p in problems), problems
    assert "a été modifié" in _verify_command_fails()


def test_an_edited_date_by_raw_sql_is_detected(chain):
    target = chain[1]
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET at = %s WHERE id = %s", [chain[0].at, target.pk])  # noqa: S608
    assert any("a été modifié" in p for p in chains_verify())
    _verify_command_fails()


def test_a_deleted_event_in_the_middle_is_detected(chain):
    target = chain[2]
    Event.objects.filter(pk=target.pk).delete()  # the queryset bypasses Event.delete()
    problems = chains_verify()
    assert any("manquant" in p for p in problems), problems
    assert any(f"lien rompu au n° {target.seq + 1}" in p for p in problems), problems
    _verify_command_fails()


def test_a_cut_tail_is_detected(chain):
    Event.objects.filter(pk__in=[e.pk for e in chain[-2:]]).delete()
    problems = chains_verify()
    assert any("supprimés en fin de chaîne" in p for p in problems), problems
    _verify_command_fails()


def test_a_whole_chain_deleted_is_detected(chain):
    Event.objects.filter(chain=chain[0].chain).delete()
    assert any("supprimés en fin de chaîne" in p for p in chains_verify())


def test_a_chain_whose_head_was_deleted_is_detected(chain):
    ChainHead.objects.filter(chain=chain[0].chain).delete()
    assert chains_verify() != []


def test_a_recomputed_hash_without_the_chain_is_detected(chain):
    """Editing a row and its own hash still breaks the next link."""
    target = chain[1]
    Event.objects.filter(pk=target.pk).update(hash="f" * 64)
    problems = chains_verify()
    assert any(f"lien rompu au n° {target.seq + 1}" in p for p in problems), problems


def test_model_save_and_delete_refuse(chain):
    event = Event.objects.get(pk=chain[0].pk)
    event.action = "autre"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert Event.objects.get(pk=event.pk).action == chain[0].action
    assert chains_verify() == []
