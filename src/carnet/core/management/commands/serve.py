import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Démarre le serveur web (gunicorn, fichiers statiques servis par whitenoise)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=f"127.0.0.1:{os.environ.get('PORT', '8000')}")
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.WEB_WORKERS,
            help=f"Processus gunicorn (défaut : CARNET_WEB_WORKERS, {settings.WEB_WORKERS}).",
        )

    def handle(self, *args, bind, workers, **options):
        call_command("collectstatic", interactive=False, verbosity=0)
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "carnet.wsgi:application",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            # Path only: a query string (a search in document titles) or a Referer could carry
            # health content (DESIGN invariant 7).
            "--access-logformat",
            '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)s',
            "--forwarded-allow-ips",
            "127.0.0.1",
        ]
        self.stdout.write(f"Carnet écoute sur http://{bind}/ (données : {settings.VAR_DIR})")
        sys.stdout.flush()
        os.execvp(argv[0], argv)  # noqa: S606 (fixed program, our own arguments)
