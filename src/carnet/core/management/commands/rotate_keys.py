from django.core.management.base import BaseCommand, CommandError

from carnet.core import crypto
from carnet.core.keys import data_keys_rewrap


class Command(BaseCommand):
    help = (
        "Rechiffre les clés de données des espaces sous la clé maîtresse la plus récente de "
        "CARNET_KEYS (la dernière listée), sans toucher aux fichiers chiffrés. À lancer après "
        "avoir ajouté une clé ; l'ancienne peut être retirée une fois la commande terminée. "
        "Idempotent."
    )

    def handle(self, *args, **options):
        try:
            newest = crypto.current_kek_id()
            count = data_keys_rewrap()
        except KeyError as exc:
            raise CommandError(
                f"la clé maîtresse {exc} est absente de CARNET_KEYS : une clé de données "
                "chiffrée sous elle ne peut pas être lue ; remettez-la puis relancez"
            ) from exc
        self.stdout.write(f"{count} clés de données rechiffrées sous la clé « {newest} »")
