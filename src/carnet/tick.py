"""`carnet tick`: every periodic sweep, idempotent and safe to run twice or concurrently."""

import logging
import time

from carnet.agenda.prevention_services import prevention_notices_daily
from carnet.agenda.services import reminders_send_due
from carnet.catalogue.services import connections_remind_due
from carnet.core.blobs import orphans_sweep
from carnet.core.metrics import sweep_record
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


def run_tick() -> dict[str, int]:
    results = {}
    for name, sweep in SWEEPS:
        started = time.monotonic()
        results[name] = sweep()
        seconds = time.monotonic() - started
        log.info("sweep %s: %s in %.2fs", name, results[name], seconds)
        sweep_record(name, results[name], seconds)
    return results
