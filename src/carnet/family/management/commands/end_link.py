from django.core.management.base import BaseCommand, CommandError

from carnet.accounts.models import User
from carnet.core.validators import parse_nir
from carnet.family.services import FamilyError, link_end_by_operator


class Command(BaseCommand):
    help = (
        "Retire le rattachement d'un compte (représentant légal, tuteur, aidant) à l'espace "
        "d'une personne : ce qu'un représentant légal ne peut pas faire pour l'autre. L'accès "
        "cesse à la requête suivante ; l'action est tracée dans l'historique de l'espace."
    )

    def add_arguments(self, parser):
        parser.add_argument("holder", metavar="NIR_TITULAIRE", help="la personne de l'espace")
        parser.add_argument("account", metavar="NIR_RATTACHE", help="la personne rattachée")
        parser.add_argument("--operateur", required=True, help="votre identifiant d'opérateur")
        parser.add_argument("--motif", default="", help="le motif, sans donnée de santé")

    def handle(self, *args, holder, account, operateur, motif, **options):
        operator = User.objects.filter(identifier=operateur).first()
        if operator is None:
            raise CommandError(f"opérateur introuvable : {operateur}")
        try:
            holder_nir, account_nir = parse_nir(holder), parse_nir(account)
        except Exception as exc:  # noqa: BLE001 (a ValidationError: its French message)
            raise CommandError(f"numéro de sécurité sociale invalide : {exc}") from exc
        try:
            link = link_end_by_operator(
                operator=operator, holder_nir=holder_nir, account_nir=account_nir, reason=motif
            )
        except FamilyError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"rattachement {link.public_id} ({link.get_kind_display()}) terminé")
