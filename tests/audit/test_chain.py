"""The audit trail is append-only and hash-chained: any edit, deletion or cut is detected.

The database refuses UPDATE (and, on PostgreSQL, DELETE) of an event by trigger; an attacker with
the rights to disable that trigger is simulated by `_tampering()`, and verify must still catch
what they did."""

from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from carnet.audit.models import AppendOnlyError, ChainHead, Event
from carnet.audit.services import chains_verify, event_record
from carnet.enrollment import services
from tests.enrollment.helpers import activate, space_of

pytestmark = pytest.mark.django_db

TABLE = Event._meta.db_table
PG = "postgresql"


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


def _sql(statement: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@contextmanager
def _tampering():
    """What an attacker with rights on the database does first: switch the trigger off
    (PostgreSQL) or drop it (SQLite); it is put back afterwards."""
    if connection.vendor == PG:
        _sql(f"ALTER TABLE {TABLE} DISABLE TRIGGER audit_event_append_only")
        yield
        _sql(f"ALTER TABLE {TABLE} ENABLE TRIGGER audit_event_append_only")
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [TABLE],
            )
            triggers = cursor.fetchall()
        assert triggers, "the append-only trigger is missing"
        for name, _ in triggers:
            _sql(f"DROP TRIGGER {name}")
        yield
        for _, create in triggers:
            _sql(create)


def _update(pk: int, column: str, value):
    _sql(f"UPDATE {TABLE} SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


def _delete(pks: list[int]):
    marks = ", ".join(["%s"] * len(pks))
    _sql(f"DELETE FROM {TABLE} WHERE id IN ({marks})", pks)  # noqa: S608


def _verify_command_fails(*args) -> tuple[str, str]:
    """Runs `carnet audit verify`; returns (stderr, the error's message)."""
    err = StringIO()
    with pytest.raises(CommandError, match="anomalie") as failure:
        call_command("audit", "verify", *args, stderr=err)
    return err.getvalue(), str(failure.value)


# --- The database refuses -----------------------------------------------------------------


def test_the_database_refuses_an_update_of_an_event(chain):
    with pytest.raises(DatabaseError, match="ajout seul"), transaction.atomic():
        _update(chain[2].pk, "actor", "usager:faux")
    assert Event.objects.get(pk=chain[2].pk).actor == chain[2].actor
    assert chains_verify() == []


def test_the_database_refuses_a_delete_of_an_event_on_postgresql(chain):
    if connection.vendor != PG:
        pytest.skip("SQLite has no delete trigger: Django's flush empties tables by DELETE")
    with pytest.raises(DatabaseError, match="ajout seul"), transaction.atomic():
        _delete([chain[2].pk])
    assert Event.objects.filter(pk=chain[2].pk).exists()
    assert chains_verify() == []


def test_the_heads_stay_updatable(chain):
    """The head of each chain moves at every write: no trigger on it."""
    event_record(actor="usager:x", action="test", space_id=chain[0].space_id)
    assert ChainHead.objects.get(chain=chain[0].chain).seq == len(chain) + 1
    assert chains_verify() == []


def test_model_and_queryset_refuse(chain):
    event = Event.objects.get(pk=chain[0].pk)
    event.action = "autre"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).update(action="autre")
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.update(action="autre")
    assert Event.objects.get(pk=event.pk).action == chain[0].action
    assert chains_verify() == []


# --- Verify catches what got past ---------------------------------------------------------


def test_a_clean_trail_verifies(chain):
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "trace d'audit intègre" in out.getvalue()
    assert f"{Event.objects.count()} événements" in out.getvalue()
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))


def test_events_are_chained_per_space_and_the_service_chain(chain):
    event_record(actor="operateur:1", action="export")
    assert Event.objects.get(chain="service").seq == 1
    assert chains_verify() == []


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("detail", '{"de": "active", "vers": "purged", "motif": "falsifié"}'),
        ("actor", "usager:quelquun-d-autre"),
        ("action", "autre_chose"),
        ("client", "10.0.0.1"),
        ("object_id", "autre-objet"),
    ],
)
def test_an_edited_row_is_detected_and_named(chain, column, value):
    target = chain[2]
    with _tampering():
        _update(target.pk, column, value)
    assert chains_verify() == [
        f"Chaîne {target.chain} : l'événement n° {target.seq} a été modifié (empreinte "
        "recalculée différente)."
    ]
    stderr, message = _verify_command_fails()
    assert f"Chaîne {target.chain} : l'événement n° {target.seq} a été modifié" in stderr
    assert f"n° {target.seq} a été modifié" in message


def test_an_edited_date_by_raw_sql_is_detected(chain):
    target = chain[1]
    with _tampering():
        _update(target.pk, "at", chain[0].at)
    assert any(f"n° {target.seq} a été modifié" in p for p in chains_verify())
    _verify_command_fails()


def test_a_deleted_event_in_the_middle_is_detected(chain):
    target = chain[2]
    with _tampering():
        _delete([target.pk])
    problems = chains_verify()
    assert problems[0].startswith(
        f"Chaîne {target.chain} : événement(s) manquant(s) avant le n° {target.seq + 1} "
        f"(n° {target.seq} attendu)"
    ), problems
    assert any(f"lien rompu au n° {target.seq + 1}" in p for p in problems), problems
    _, message = _verify_command_fails()
    assert f"manquant(s) avant le n° {target.seq + 1}" in message


def test_a_cut_tail_is_detected(chain):
    with _tampering():
        _delete([e.pk for e in chain[-2:]])
    assert chains_verify() == [
        f"Chaîne {chain[0].chain} : des événements ont été supprimés en fin de chaîne (la tête "
        f"indique le n° {len(chain)}, le dernier présent est le n° {len(chain) - 2})."
    ]
    _, message = _verify_command_fails()
    assert "supprimés en fin de chaîne" in message


def test_a_whole_chain_deleted_is_detected(chain):
    with _tampering():
        _delete([e.pk for e in chain])
    assert any("supprimés en fin de chaîne" in p for p in chains_verify())
    _verify_command_fails()


def test_a_chain_whose_head_was_deleted_is_detected(chain):
    ChainHead.objects.filter(chain=chain[0].chain).delete()
    assert chains_verify() == [f"Chaîne {chain[0].chain} : la tête de chaîne a été supprimée."]


def test_a_head_not_matching_the_last_event_is_detected(chain):
    ChainHead.objects.filter(chain=chain[0].chain).update(hash="f" * 64)
    assert chains_verify() == [
        f"Chaîne {chain[0].chain} : la tête de chaîne ne correspond pas au dernier événement "
        f"(n° {len(chain)})."
    ]


def test_an_event_added_past_the_head_is_detected(chain):
    ChainHead.objects.filter(chain=chain[0].chain).update(seq=len(chain) - 1)
    assert any("ajoutés après la tête" in p for p in chains_verify())


def test_a_recomputed_hash_without_the_chain_is_detected(chain):
    """Editing a row and its own hash still breaks the next link."""
    target = chain[1]
    with _tampering():
        _update(target.pk, "hash", "f" * 64)
    problems = chains_verify()
    assert any(f"lien rompu au n° {target.seq + 1}" in p for p in problems), problems


def test_the_first_problem_is_the_first_broken_event(chain):
    """Problems come chain by chain, each in sequence order: the error names the earliest."""
    with _tampering():
        _update(chain[3].pk, "actor", "usager:faux")
        _update(chain[1].pk, "actor", "usager:faux")
    _, message = _verify_command_fails()
    assert f"la première : Chaîne {chain[0].chain} : l'événement n° {chain[1].seq}" in message


# --- verify --space ------------------------------------------------------------------------


def test_verify_one_space_only_walks_its_chain(chain, issue_code):
    other = issue_code()
    other_chain = str(space_of(other.person).public_id)
    with _tampering():
        _update(chain[1].pk, "actor", "usager:faux")

    out = StringIO()
    call_command("audit", "verify", "--space", other_chain, stdout=out)
    assert "trace d'audit intègre" in out.getvalue()
    assert "1 chaîne(s)" in out.getvalue()

    stderr, _ = _verify_command_fails("--space", chain[0].chain)
    assert f"Chaîne {chain[0].chain} : l'événement n° {chain[1].seq} a été modifié" in stderr
    assert other_chain not in stderr


def test_verify_the_service_chain(chain):
    event_record(actor="operateur:1", action="export")
    out = StringIO()
    call_command("audit", "verify", "--space", "service", stdout=out)
    assert "(1 événements, 1 chaîne(s))" in out.getvalue()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("pas-un-uuid", "identifiant d'espace invalide"),
        ("0b6f3c1e-2f4a-4c7e-9d1a-5e8b7c6d5a4f", "aucune trace d'audit"),
    ],
)
def test_verify_an_unknown_or_invalid_space_fails(chain, value, message):
    with pytest.raises(CommandError, match=message):
        call_command("audit", "verify", "--space", value)
