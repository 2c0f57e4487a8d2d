from contextlib import ExitStack
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from carnet.core.progress import progress_bar
from carnet.registry.services import ImportFileError, registry_import

SHOWN_ERRORS = 20


def _data_lines(path: Path) -> int:
    """Physical lines after the header, for the progress bar's total."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return max(lines + (last != b"\n") - 1, 0)


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
        try:
            total = _data_lines(path)
            with ExitStack() as stack:
                bar = None

                def advance(lines: int) -> None:
                    # Opened at the first batch: a file refused at once fails in one line.
                    nonlocal bar
                    if bar is None:
                        bar = stack.enter_context(progress_bar("Import du registre", total=total))
                    bar(lines)

                report = registry_import(path, progress=advance)
        except ImportFileError as exc:
            raise CommandError(f"{path.name} : {exc} ; rien n'a été importé") from exc
        except OSError as exc:
            raise CommandError(f"impossible de lire {path.name} : {exc.strerror}") from exc
        for line, reason in report.errors[:SHOWN_ERRORS]:
            self.stderr.write(f"ligne {line} : {reason}")
        if len(report.errors) > SHOWN_ERRORS:
            self.stderr.write(f"… et {len(report.errors) - SHOWN_ERRORS} autres erreurs")
        self.stdout.write(
            f"{report.created} créés, {report.updated} mis à jour, {report.unchanged} inchangés, "
            f"{len(report.errors)} lignes en erreur"
            + (f" (détail : {report.errors_path})" if report.errors_path else "")
        )
