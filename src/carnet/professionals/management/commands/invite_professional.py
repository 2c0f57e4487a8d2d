from django.core.management.base import BaseCommand, CommandError

from carnet.core import clock
from carnet.core.validators import mask_email
from carnet.professionals import services


class Command(BaseCommand):
    help = (
        "Invite un professionnel de l'annuaire à activer son compte : un lien à usage unique, "
        "valable 7 jours, est envoyé à son adresse e-mail (il remplace toute invitation "
        "précédente non utilisée). Un professionnel dont le compte est déjà activé ne peut "
        "pas être invité à nouveau."
    )

    def add_arguments(self, parser):
        parser.add_argument("rpps", metavar="RPPS", help="le numéro RPPS (11 chiffres)")

    def handle(self, *args, rpps, **options):
        try:
            invitation, _ = services.invitation_issue(rpps)
        except services.InvitationRefused as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Invitation envoyée à {mask_email(invitation.professional.email)}, valable "
            f"jusqu'au {clock.localtime_fr(invitation.expires_at)}."
        )
