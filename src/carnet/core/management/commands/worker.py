import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from carnet.tick import run_tick


class Command(BaseCommand):
    help = (
        "Démarre le worker : exécute les tâches en file (envoi des e-mails et SMS) et lance "
        "les traitements périodiques (tick) à intervalle régulier."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tick-interval",
            type=int,
            default=settings.CARNET["WORKER_TICK_INTERVAL_SECONDS"],
            help="Secondes entre deux traitements périodiques (0 : jamais).",
        )

    def handle(self, *args, tick_interval, **options):
        stop = threading.Event()
        if tick_interval > 0:

            def ticker():
                while not stop.is_set():
                    try:
                        run_tick()
                    except Exception:  # keep the worker alive; the error is logged
                        import logging

                        logging.getLogger(__name__).exception("tick failed")
                    stop.wait(tick_interval)

            threading.Thread(target=ticker, name="tick", daemon=True).start()
        try:
            call_command("db_worker", interval=1.0)
        finally:
            stop.set()
