from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from carnet.core.progress import progress_bar
from carnet.registry.services import ImportFileError, registry_import


class Command(BaseCommand):
    help = (
        "Importe le registre des assurés depuis un fichier CSV UTF-8 (séparateur , ou ; détecté). "
        "Les lignes invalides sont ignorées et listées dans FICHIER.errors.csv. Réimporter le "
        "même fichier ne change rien."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FICHIER", help="le fichier CSV à importer")

    def handle(self, *args, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"fichier introuvable : {file}")
        with path.open("rb") as fh:
            total = max(sum(1 for _ in fh) - 1, 0)
        try:
            with progress_bar("Import du registre", total=total) as advance:
                report = registry_import(path, progress=advance)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        for line, reason in report.errors[:20]:
            self.stderr.write(f"ligne {line} : {reason}")
        if len(report.errors) > 20:
            self.stderr.write(f"… et {len(report.errors) - 20} autres erreurs")
        self.stdout.write(
            f"{report.created} créés, {report.updated} mis à jour, {report.unchanged} inchangés, "
            f"{len(report.errors)} lignes en erreur"
            + (f" (détail : {report.errors_path})" if report.errors_path else "")
        )
