from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from carnet.core.backup import BackupError, backup


class Command(BaseCommand):
    help = (
        "Sauvegarde cohérente de l'installation dans DIR (un dossier neuf) : la base, les "
        "fichiers chiffrés tels qu'ils sont stockés, et manifest.json (empreintes SHA-256, "
        "authentifiées par CARNET_HMAC_KEY). La base y est en clair (identités, profil "
        "médical, titres des documents) : le dossier (0700) et ses fichiers (0600) ne sont "
        "lisibles que par votre compte, et la sauvegarde va sur un stockage chiffré. Les clés "
        "maîtresses (CARNET_KEYS) n'y sont jamais : gardez-les dans votre coffre."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", metavar="DIR")

    def handle(self, *args, folder, **options):
        try:
            report = backup(Path(folder))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Sauvegarde terminée dans {folder} : {report.blobs} fichiers chiffrés "
            f"({report.bytes} octets)."
        )
        if report.missing:
            raise CommandError(
                f"{len(report.missing)} fichiers référencés étaient absents du stockage "
                "(supprimés pendant la sauvegarde ?) ; ils sont listés dans le manifeste. "
                "Relancez la sauvegarde dans un dossier neuf."
            )
