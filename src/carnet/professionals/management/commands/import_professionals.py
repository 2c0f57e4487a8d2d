from django.core.management.base import BaseCommand

from carnet.core.importing import file_import
from carnet.professionals.services import COLUMNS, professionals_import


class Command(BaseCommand):
    help = (
        "Importe l'annuaire des professionnels de santé depuis un fichier CSV UTF-8 (BOM "
        "accepté, séparateur , ou ; détecté). En-tête obligatoire, colonnes dans n'importe "
        f"quel ordre : {','.join(COLUMNS)}. rpps : 11 chiffres dont une clé de Luhn valide ; "
        "last_name, first_name : obligatoires ; profession : médecin, pharmacien, infirmier, "
        "sage-femme, chirurgien-dentiste, masseur-kinésithérapeute, biologiste ou radiologue "
        "(majuscules et accents indifférents) ; profession_code : facultatif, 10 lettres ou "
        "chiffres au plus ; finess : facultatif, 9 chiffres ou 2A/2B suivis de 7 chiffres ; "
        "postcode : facultatif, 5 chiffres ; messaging_address, email : facultatifs, adresses "
        "e-mail valides. Les lignes invalides (et un RPPS répété) sont ignorées et listées dans "
        "FICHIER.errors.csv. Un professionnel est reconnu à son RPPS : réimporter le même "
        "fichier ne change rien, une ligne modifiée met l'annuaire à jour."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FICHIER", help="le fichier CSV à importer")

    def handle(self, *args, file, **options):
        report = file_import(
            self, file, professionals_import, "Import de l'annuaire des professionnels"
        )
        self.stdout.write(
            f"{report.created} créés, {report.updated} mis à jour, {report.unchanged} inchangés, "
            f"{len(report.errors)} lignes en erreur"
            + (f" (détail : {report.errors_path})" if report.errors_path else "")
        )
