import logging
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django_tasks.signals import task_finished, task_started

from carnet.tick import database_not_ready, run_tick

log = logging.getLogger(__name__)

RQ_BACKEND = "django_tasks_rq.RQBackend"
# Jobs run in this process (no fork per job): the ticker thread keeps its own database
# connection, and a job costs no new connection. JSON jobs only (settings.RQ_SERIALIZER).
RQ_WORKER_OPTIONS = {
    "job_class": "carnet.core.jobs.CarnetJob",
    "worker_class": "rq.worker.SimpleWorker",
    "serializer": settings.RQ_SERIALIZER,
}


def _connections_refreshed(**kwargs) -> None:
    close_old_connections()


def uses_rq() -> bool:
    return settings.TASKS["default"]["BACKEND"] == RQ_BACKEND


class Command(BaseCommand):
    help = (
        "Démarre un worker : exécute les tâches en file (envoi des e-mails et SMS, exports) et "
        "lance les traitements périodiques (tick) à intervalle régulier. File en base de données "
        "par défaut, sur Redis (RQ) quand REDIS_URL est défini ; plusieurs workers peuvent "
        "tourner en même temps."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tick-interval",
            type=int,
            default=settings.CARNET["WORKER_TICK_INTERVAL_SECONDS"],
            help="Secondes entre deux traitements périodiques (0 : jamais).",
        )

    def handle(self, *args, tick_interval, **options):
        if reason := database_not_ready():  # else every tick would fail, every second
            raise CommandError(f"Worker non démarré : {reason}")
        close_old_connections()  # the ticker and the jobs open their own
        stop = threading.Event()
        if tick_interval > 0:

            def ticker():
                while not stop.is_set():
                    # As around a request: a connection broken by a database restart or a
                    # failover is replaced, not reused by every later sweep.
                    close_old_connections()
                    try:
                        run_tick()
                    except Exception:  # each sweep is guarded: this is the last resort
                        log.exception("tick failed")
                    close_old_connections()
                    stop.wait(tick_interval)

            threading.Thread(target=ticker, name="tick", daemon=True).start()
        try:
            if uses_rq():
                # rq's worker does not do what db_worker does around each task.
                task_started.connect(_connections_refreshed)
                task_finished.connect(_connections_refreshed)
                call_command(
                    "rqworker",
                    *settings.TASKS["default"]["QUEUES"],
                    **RQ_WORKER_OPTIONS,
                    with_scheduler=True,
                    verbosity=options["verbosity"],
                )
            else:
                call_command("db_worker", interval=1.0)
        finally:
            stop.set()
