from contextlib import ExitStack
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from carnet.core.progress import progress_bar
from carnet.documents.care import COLUMNS, ImportFileError, care_import

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
        "Importe l'historique des soins remboursés depuis un fichier CSV UTF-8 (BOM accepté, "
        "séparateur , ou ; détecté). En-tête obligatoire, colonnes dans n'importe quel ordre : "
        f"{','.join(COLUMNS)}. nir : NIR de 15 caractères avec sa clé, connu du registre ; "
        "date : AAAA-MM-JJ ou JJ/MM/AAAA, ni dans le futur ni avant 1900 ; categorie : maladie, "
        "biologie, médicaments, soins médicaux et dentaires, hospitalisation, radiologie, "
        "dispositif médical ou vaccin (majuscules indifférentes) ; libelle : obligatoire, "
        "200 caractères au plus ; professionnel : facultatif, 150 caractères au plus ; "
        "montant_rembourse : positif ou nul, virgule ou point, 2 décimales au plus (12,50). "
        "Les lignes invalides sont ignorées et listées dans FICHIER.errors.csv. Un soin déjà "
        "connu (même assuré, date, catégorie, libellé et professionnel) est laissé tel quel : "
        "réimporter le même fichier ne change rien. Les soins des assurés dont l'espace est "
        "opposé ou supprimé ne sont pas conservés."
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
                        bar = stack.enter_context(
                            progress_bar("Import de l'historique des soins", total=total)
                        )
                    bar(lines)

                report = care_import(path, progress=advance)
        except ImportFileError as exc:
            raise CommandError(f"{path.name} : {exc} ; rien n'a été importé") from exc
        except OSError as exc:
            raise CommandError(f"impossible de lire {path.name} : {exc.strerror}") from exc
        for line, reason in report.errors[:SHOWN_ERRORS]:
            self.stderr.write(f"ligne {line} : {reason}")
        if len(report.errors) > SHOWN_ERRORS:
            self.stderr.write(f"… et {len(report.errors) - SHOWN_ERRORS} autres erreurs")
        self.stdout.write(
            f"{report.created} créés, {report.known} déjà connus, {report.skipped} ignorés "
            f"(espace opposé ou supprimé), {len(report.errors)} lignes en erreur"
            + (f" (détail : {report.errors_path})" if report.errors_path else "")
        )
