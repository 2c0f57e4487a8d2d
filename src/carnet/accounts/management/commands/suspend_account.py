from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from carnet.accounts.models import User
from carnet.accounts.services import account_suspend


class Command(BaseCommand):
    help = (
        "Suspend un compte (usager, professionnel ou opérateur) et met fin à toutes ses "
        "sessions immédiatement. L'action est tracée au nom de l'opérateur."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifier", metavar="IDENTIFIANT", help="le compte à suspendre")
        parser.add_argument(
            "--operateur", required=True, help="l'identifiant de l'opérateur qui suspend"
        )
        parser.add_argument("--motif", default="", help="le motif, sans donnée de santé")

    def handle(self, *args, identifier, operateur, motif, **options):
        operator = User.objects.filter(identifier=operateur).first()
        user = User.objects.filter(identifier=identifier).first()
        if operator is None:
            raise CommandError(f"opérateur introuvable : {operateur}")
        if user is None:
            raise CommandError(f"compte introuvable : {identifier}")
        try:
            ended = account_suspend(operator=operator, user=user, reason=motif, client="cli")
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"compte {identifier} suspendu, {ended} session(s) terminée(s)")
