from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from carnet.accounts.models import User
from carnet.catalogue.models import App
from carnet.catalogue.services import app_status_set


class Command(BaseCommand):
    help = (
        "Change le statut d'une entrée du catalogue : en_ligne, hors_ligne (plus proposée, "
        "les accès continuent), suspendue (plus aucun accès, réversible), dereferencee (plus "
        "aucun accès, connexions terminées)."
    )

    def add_arguments(self, parser):
        parser.add_argument("client_id")
        parser.add_argument("status", choices=App.Status.values)
        parser.add_argument("--operateur", required=True, help="votre identifiant d'opérateur")

    def handle(self, *args, client_id, status, operateur, **options):
        operator = User.objects.filter(identifier=operateur, kind=User.Kind.OPERATOR).first()
        if operator is None:
            raise CommandError(f"opérateur introuvable : {operateur}")
        app = App.objects.filter(client_id=client_id).first()
        if app is None:
            raise CommandError(f"application introuvable : {client_id}")
        try:
            app_status_set(operator=operator, app=app, status=status)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        app.refresh_from_db()
        self.stdout.write(f"{app.name} : {app.get_status_display()}")
