from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from carnet.accounts.models import User
from carnet.catalogue.models import App
from carnet.catalogue.services import app_register


class Command(BaseCommand):
    help = (
        "Référence une application dans le catalogue (ou, avec --finess, le logiciel d'un "
        "établissement de santé, en « client credentials »). Affiche l'identifiant du client "
        "et, pour un client confidentiel, son secret : une seule fois, il est conservé haché."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="le nom affiché")
        parser.add_argument("--operateur", required=True, help="votre identifiant d'opérateur")
        parser.add_argument("--editeur", required=True)
        parser.add_argument("--description", required=True)
        parser.add_argument(
            "--categorie", default=App.Category.PREVENTION, choices=App.Category.values
        )
        parser.add_argument(
            "--scopes", required=True, help="les données autorisées (scopes SMART), séparées"
        )
        parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
        parser.add_argument("--site", default="")
        parser.add_argument("--finess", default="", help="logiciel de professionnel : FINESS")
        parser.add_argument("--confidentiel", action="store_true", help="client avec secret")
        parser.add_argument("--statut", default=App.Status.OFFLINE, choices=App.Status.values)

    def handle(self, *args, **o):
        operator = User.objects.filter(identifier=o["operateur"], kind=User.Kind.OPERATOR).first()
        if operator is None:
            raise CommandError(f"opérateur introuvable : {o['operateur']}")
        try:
            app, secret = app_register(
                operator=operator,
                name=o["name"],
                editor=o["editeur"],
                description=o["description"],
                category=o["categorie"],
                allowed_scopes=o["scopes"].replace(",", " ").split(),
                redirect_uris=o["redirect_uris"],
                website=o["site"],
                software_finess=o["finess"],
                confidential=o["confidentiel"],
                status=o["statut"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"client_id={app.client_id}")
        if secret:
            self.stdout.write(f"client_secret={secret}")
        self.stdout.write(f"catalogue={app.public_id} statut={app.get_status_display()}")
