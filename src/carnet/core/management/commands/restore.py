from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from carnet.core.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restaure la sauvegarde DIR (faite par « carnet backup ») dans cette installation, qui "
        "doit être vide : base sans table, stockage des fichiers vide. Avant toute écriture, "
        "le manifeste est authentifié (CARNET_HMAC_KEY) et chaque empreinte vérifiée. Il faut "
        "les mêmes CARNET_KEYS, CARNET_HMAC_KEY et SECRET_KEY que l'installation sauvegardée. "
        "Ensuite : « carnet audit verify »."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", metavar="DIR")

    def handle(self, *args, folder, **options):
        try:
            report = restore(Path(folder))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restauration terminée : {report.blobs} fichiers chiffrés ({report.bytes} octets). "
            "Vérifiez maintenant la trace d'audit : carnet audit verify"
        )
