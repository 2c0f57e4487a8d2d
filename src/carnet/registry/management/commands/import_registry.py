from django.core.management.base import BaseCommand

from carnet.core.importing import file_import
from carnet.registry.services import registry_import


class Command(BaseCommand):
    help = (
        "Importe le registre des assurés depuis un fichier CSV UTF-8 (séparateur , ou ; détecté). "
        "Les lignes invalides sont ignorées et listées dans FICHIER.errors.csv. Réimporter le "
        "même fichier ne change rien."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FICHIER", help="le fichier CSV à importer")

    def handle(self, *args, file, **options):
        report = file_import(self, file, registry_import, "Import du registre")
        self.stdout.write(
            f"{report.created} créés, {report.updated} mis à jour, {report.unchanged} inchangés, "
            f"{len(report.errors)} lignes en erreur"
            + (f" (détail : {report.errors_path})" if report.errors_path else "")
        )
