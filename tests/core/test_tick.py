"""The periodic sweeps (`carnet tick`, the worker's ticker): one sweep that fails, by a bug or
a database connection cut under it, does not stop the ones behind it (the delivery of the
messages comes last); the failure is logged, exposed to Prometheus, and `carnet tick` exits
with an error naming it."""

import logging
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from carnet import tick
from carnet.core import clock
from carnet.notifications.models import OutboxMessage
from tests.core.prometheus import value
from tests.ports import free_port


def pending_message() -> OutboxMessage:
    now = clock.now()
    return OutboxMessage.objects.create(
        channel="email", to="patient@exemple.fr", kind="activation", subject="Carnet",
        body="Votre espace vous attend.", created_at=now, next_attempt_at=now,
        status=OutboxMessage.Status.PENDING,
    )  # fmt: skip


@contextmanager
def database_out_of_reach():
    """A function that points the connection at a port nothing listens on (PostgreSQL only:
    SQLite's test database is in memory); the settings restored and the connection closed
    afterwards, whatever happened."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL seulement")
    saved = dict(connection.settings_dict)
    port = free_port()
    try:
        yield lambda: connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port))
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def broken_sweep():
    raise RuntimeError("panne simulée du traitement")


def with_purge_broken():
    return [(name, broken_sweep if name == "purge" else sweep) for name, sweep in tick.SWEEPS]


@pytest.mark.django_db
@pytest.mark.sweep_failures
def test_a_failing_sweep_is_logged_and_the_sweeps_behind_it_still_run(caplog, scrape):
    message = pending_message()
    caplog.set_level(logging.INFO, logger="carnet.tick")

    results = tick.run_tick(with_purge_broken())

    assert results["purge"] is None
    assert list(results) == [name for name, _ in tick.SWEEPS]
    assert all(isinstance(results[name], int) for name in results if name != "purge")
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT  # the last sweep ran
    failures = [r for r in caplog.records if r.getMessage() == "sweep purge failed"]
    assert len(failures) == 1 and failures[0].exc_info[0] is RuntimeError
    samples = scrape()
    assert value(samples, "carnet_sweep_last_failure_timestamp_seconds", sweep="purge") > 0
    assert ("carnet_sweep_last_failure_timestamp_seconds", (("sweep", "envoi_messages"),)) not in (
        samples
    )
    assert value(samples, "carnet_sweep_last_run_timestamp_seconds", sweep="envoi_messages") > 0


@pytest.mark.django_db
@pytest.mark.sweep_failures
def test_carnet_tick_names_the_failed_sweep_and_exits_with_an_error(monkeypatch, capsys):
    monkeypatch.setattr(tick, "SWEEPS", with_purge_broken())
    with pytest.raises(CommandError, match="Traitements en échec : purge"):
        call_command("tick")
    out = capsys.readouterr().out
    assert "purge: échec" in out
    assert "envoi_messages: 0" in out


@pytest.mark.django_db
def test_carnet_tick_succeeds_when_every_sweep_does(capsys):
    call_command("tick")
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [name for name, _ in tick.SWEEPS]
    assert not [line for line in out if "échec" in line]


@pytest.mark.django_db(transaction=True)
@pytest.mark.sweep_failures
def test_a_connection_cut_during_a_sweep_is_replaced_for_the_next_ones():
    """A failover or a restart of PostgreSQL in the middle of a tick: the sweep in flight
    fails, the broken connection is closed, and the next sweeps open a new one."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL seulement")
    message = pending_message()

    def cut_under_the_sweep():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    sweeps = [("coupure", cut_under_the_sweep), *tick.SWEEPS]
    results = tick.run_tick(sweeps)

    assert results["coupure"] is None
    assert all(isinstance(results[name], int) for name, _ in tick.SWEEPS)
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT


@pytest.mark.django_db
@pytest.mark.sweep_failures
def test_the_sweeps_run_and_the_messages_leave_while_redis_is_down(settings, caplog):
    """The metrics are in the cache; the sweeps need only the database."""
    port = free_port()  # nothing listens there: every connection refused
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    # 10:00 in Paris: the prevention notices' time of day (they need the cache, below).
    paris_now = timezone.localtime(clock.now())
    clock.set_offset(paris_now.replace(hour=10, minute=0) - paris_now)
    message = pending_message()
    caplog.set_level(logging.INFO, logger="carnet.tick")

    results = tick.run_tick(with_purge_broken())

    # The daily prevention sweep remembers its day's run in the cache: without it, it fails
    # (logged, tried again at the next tick) rather than scan every profile every tick.
    failed = {name for name, count in results.items() if count is None}
    assert failed == {"purge", "rappels_prevention"}
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    # One wait for the cache, not one per sweep (a stalled Redis costs its timeout each time).
    unrecorded = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert unrecorded == ["sweep creation_automatique: metrics not recorded (cache unreachable)"]


@pytest.mark.sweep_failures
@pytest.mark.django_db(transaction=True)
def test_a_database_that_cannot_be_reached_stops_the_tick_in_one_line(caplog):
    """PostgreSQL down: one failure and one line, not one traceback per sweep every second."""
    caplog.set_level(logging.INFO, logger="carnet.tick")
    with database_out_of_reach() as move_away:

        def database_gone():
            move_away()  # the server cannot be reached any more…
            with connection.cursor() as cursor:  # …and ends the connection we had
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

        results = tick.run_tick([("panne", database_gone), *tick.SWEEPS])

    assert results == {name: None for name in ["panne", *(n for n, _ in tick.SWEEPS)]}
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        "sweep panne failed",
        f"tick stopped: database unreachable ({len(tick.SWEEPS)} not run)",
    ]


@pytest.mark.django_db
def test_carnet_tick_and_the_worker_refuse_to_start_on_a_database_not_migrated():
    """One line naming the command to run, rather than every sweep failing every second."""
    from django.db.migrations.recorder import MigrationRecorder

    applied = MigrationRecorder(connection).migration_qs
    applied.filter(app="notifications").order_by("-id").first().delete()  # as before a deploy
    for command in ("tick", "worker"):
        with pytest.raises(CommandError, match="lancez « carnet migrate »"):
            call_command(command)


@pytest.mark.django_db(transaction=True)
def test_carnet_tick_and_the_worker_refuse_to_start_on_a_database_out_of_reach():
    with database_out_of_reach() as move_away:
        connection.close()
        move_away()
        for command in ("tick", "worker"):
            with pytest.raises(CommandError, match="la base ne répond pas"):
                call_command(command)
