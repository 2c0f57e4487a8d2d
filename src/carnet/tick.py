"""`carnet tick`: every periodic sweep, idempotent and safe to run twice or concurrently."""

import logging
import time

from django.db import connections

from carnet.agenda.prevention_services import prevention_notices_daily
from carnet.agenda.services import reminders_send_due
from carnet.catalogue.services import connections_remind_due
from carnet.core.blobs import orphans_sweep
from carnet.core.metrics import sweep_failure_record, sweep_record
from carnet.documents.services import documents_purge_due, documents_withheld_sweep
from carnet.enrollment.services import spaces_auto_create, spaces_purge_due
from carnet.exports.services import exports_sweep
from carnet.family.majority import majority_sweep
from carnet.messaging.gateway_services import replies_relay
from carnet.messaging.services import conversations_purge_due
from carnet.notifications.services import outbox_deliver

log = logging.getLogger(__name__)

SWEEPS = [
    ("creation_automatique", spaces_auto_create),
    ("purge", spaces_purge_due),
    ("documents_supprimes", documents_purge_due),
    ("documents_retenus", documents_withheld_sweep),
    ("messages_supprimes", conversations_purge_due),
    # Exports: silent builds handed to the worker again, expired files deleted.
    ("exports", exports_sweep),
    ("fichiers_orphelins", orphans_sweep),
    # Before the delivery: a reminder claimed in this tick leaves in this tick.
    ("rappels_agenda", reminders_send_due),
    ("rappels_prevention", prevention_notices_daily),  # once a day, from 08:00
    ("relais_reponses", replies_relay),  # the patients' replies, by SMTP to the professionals
    # Coming of age: links ended, the young adult's code; its messages leave in this tick.
    ("majorite", majority_sweep),
    ("rappel_services_connectes", connections_remind_due),  # every 90 days, per profile
    ("envoi_messages", outbox_deliver),
]


def run_tick(sweeps=None) -> dict[str, int | None]:
    """Every sweep, in order; a sweep that fails is logged and counted (None), and the next
    ones still run: a bug or a cut database connection in one sweep must not stop the
    delivery of the messages or the purges behind it. A database that cannot be reached at
    all stops the tick (one line, not one failure per sweep); the next tick tries again."""
    results = {}
    metrics = True  # until the cache fails once in this tick: a stalled Redis costs one wait
    sweeps = list(SWEEPS if sweeps is None else sweeps)
    for position, (name, sweep) in enumerate(sweeps):
        started = time.monotonic()
        try:
            results[name] = sweep()
        except Exception:
            results[name] = None
            log.exception("sweep %s failed", name)
            _replace_broken_connections()  # first: the cache may be in the database
            if not _database_reachable():
                skipped = sweeps[position + 1 :]
                log.error("tick stopped: database unreachable (%s not run)", len(skipped))
                results.update({later: None for later, _ in skipped})
                return results
            metrics = metrics and _metrics(sweep_failure_record, name)
            continue
        seconds = time.monotonic() - started
        log.info("sweep %s: %s in %.2fs", name, results[name], seconds)
        metrics = metrics and _metrics(sweep_record, name, results[name], seconds)
    return results


def _metrics(record, name: str, *args) -> bool:
    """The metrics live in the cache (Redis): a Redis down or slow must not stop the sweeps,
    which need only the database (the messages waiting in the outbox leave meanwhile)."""
    try:
        record(name, *args)
    except Exception:
        log.warning("sweep %s: metrics not recorded (cache unreachable)", name, exc_info=True)
        return False
    return True


def _replace_broken_connections() -> None:
    """As Django does between requests: a connection that failed and no longer answers (a
    database restart, a failover) is closed, and the next sweep opens a new one. Not inside
    an atomic block (a caller's transaction, as in the tests), which owns its connection."""
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            continue
        try:
            connection.close_if_unusable_or_obsolete()
        except Exception:  # closing a dead connection may fail too: it is dropped all the same
            log.warning("closing a broken database connection failed", exc_info=True)


def database_not_ready() -> str | None:
    """Why the sweeps cannot run at all (checked once when `carnet tick` or `carnet worker`
    starts, not at every tick): one line for the operator, or None."""
    from django.db.migrations.executor import MigrationExecutor

    try:
        connection = connections["default"]
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return f"la base ne répond pas ({exc.__class__.__name__})."
    if pending:
        return (
            f"la base n'est pas à jour ({len(pending)} migration(s)) : lancez « carnet migrate »."
        )
    return None


def _database_reachable() -> bool:
    try:
        connections["default"].ensure_connection()
    except Exception:
        return False
    return True
