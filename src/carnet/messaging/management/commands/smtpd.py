import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from carnet.messaging.gateway import gateway_controller
from carnet.messaging.services import MessagingError


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

    def handle(self, *args, host, port, **options):
        try:
            controller = gateway_controller(host=host, port=port)
        except (MessagingError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        controller.start()
        self.stdout.write(f"Passerelle SMTP à l'écoute sur {host}:{port} (Ctrl+C pour arrêter).")
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
            self.stdout.write("Passerelle SMTP arrêtée.")
