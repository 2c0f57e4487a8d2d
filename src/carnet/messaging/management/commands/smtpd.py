import ctypes
import logging
import os
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from carnet.messaging.gateway import gateway_controller
from carnet.messaging.services import MessagingError

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # prctl(2)


def _end_with_parent() -> None:
    """Linux: this process gets SIGTERM when the supervisor dies (even by SIGKILL), so that no
    gateway process serves on without it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the supervisor's SIGTERM still stops them
        pass


class Command(BaseCommand):
    help = (
        "Démarre la passerelle SMTP de la messagerie de santé : les professionnels y déposent, "
        "après STARTTLS et authentification (identifiant : leur RPPS ; mot de passe : leur "
        "accès SMTP), des messages pour les adresses <INS>@CARNET_PATIENT_MAIL_DOMAIN. "
        "Certificat et clé TLS : CARNET_SMTPD_TLS_CERT et CARNET_SMTPD_TLS_KEY."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--host",
            default=settings.SMTPD_HOST,
            help=f"Adresse d'écoute (défaut : {settings.SMTPD_HOST}).",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=settings.SMTPD_PORT,
            help=f"Port d'écoute (défaut : {settings.SMTPD_PORT}).",
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=settings.SMTPD_PROCESSES,
            help=(
                "Processus qui se partagent le port (défaut : CARNET_SMTPD_PROCESSES, "
                f"{settings.SMTPD_PROCESSES})."
            ),
        )

    def handle(self, *args, host, port, processes, **options):
        if not 1 <= processes <= 64:
            raise CommandError("--processes : entre 1 et 64.")
        shared = processes > 1
        try:  # checked once, before any fork: a missing certificate stops everything here
            gateway_controller(host=host, port=port).loop.close()
        except (MessagingError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        if not shared:
            self._serve(host, port, reuse_port=False)
            return
        connections.close_all()  # each process opens its own
        children = []
        for _ in range(processes):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    _end_with_parent()
                    self._serve(host, port, reuse_port=True, quiet=True)
                except BaseException:  # noqa: BLE001 (logged, and the exit status says it)
                    log.exception("smtpd: a gateway process failed")
                    code = 1
                finally:
                    os._exit(code)
            children.append(pid)
        self.stdout.write(
            f"Passerelle SMTP à l'écoute sur {host}:{port}, {processes} processus "
            "(Ctrl+C pour arrêter)."
        )
        self._supervise(children)

    def _supervise(self, children: list[int]) -> None:
        """Wait for the children; SIGTERM or Ctrl+C stops them all, as does the end of one."""

        def stop_all(*_):
            for pid in children:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

        signal.signal(signal.SIGTERM, stop_all)
        failed = False
        try:
            while children:
                pid, status = os.wait()
                if pid in children:
                    children.remove(pid)
                    failed = failed or os.waitstatus_to_exitcode(status) != 0
                    stop_all()
        except KeyboardInterrupt:
            stop_all()
            for pid in children:
                os.waitpid(pid, 0)
        self.stdout.write("Passerelle SMTP arrêtée.")
        if failed:
            raise CommandError("un processus de la passerelle s'est arrêté en erreur.")

    def _serve(self, host: str, port: int, *, reuse_port: bool, quiet: bool = False) -> None:
        controller = gateway_controller(host=host, port=port, reuse_port=reuse_port)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        if quiet:  # a child: Ctrl+C reaches the whole group, the parent stops everyone
            signal.signal(signal.SIGINT, lambda *_: stop.set())
        controller.start()
        if not quiet:
            self.stdout.write(
                f"Passerelle SMTP à l'écoute sur {host}:{port} (Ctrl+C pour arrêter)."
            )
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()  # and the database threads, their connections closed
            if not quiet:
                self.stdout.write("Passerelle SMTP arrêtée.")
