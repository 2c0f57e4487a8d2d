from django.core.management.base import BaseCommand

from carnet.core.importing import file_import
from carnet.documents.care import COLUMNS, care_import


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
        report = file_import(self, file, care_import, "Import de l'historique des soins")
        self.stdout.write(
            f"{report.created} créés, {report.known} déjà connus, {report.skipped} ignorés "
            f"(espace opposé ou supprimé), {len(report.errors)} lignes en erreur"
            + (f" (détail : {report.errors_path})" if report.errors_path else "")
        )
