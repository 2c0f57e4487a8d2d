from django.core.management.base import BaseCommand, CommandError

from carnet.core import crypto
from carnet.core.keys import KekUnavailable, data_keys_rewrap


class Command(BaseCommand):
    help = (
        "Rechiffre les clés de données des espaces sous la clé maîtresse la plus récente de "
        "CARNET_KEYS (la dernière listée), sans toucher aux fichiers chiffrés. À lancer après "
        "avoir ajouté une clé ; l'ancienne peut être retirée une fois la commande terminée. "
        "Idempotent : peut être relancée après une interruption."
    )

    def handle(self, *args, **options):
        try:
            newest = crypto.current_kek_id()
        except IndexError as exc:
            raise CommandError("CARNET_KEYS est vide : ajoutez au moins une clé maîtresse") from exc
        try:
            count = data_keys_rewrap()
        except KekUnavailable as exc:
            raise CommandError(
                f"clé maîtresse absente de CARNET_KEYS ou erronée : {exc}. Des clés de données "
                "sont chiffrées sous elle et ne peuvent pas être lues ; remettez-la dans "
                "CARNET_KEYS puis relancez la commande"
            ) from exc
        self.stdout.write(f"{count} clés de données rechiffrées sous la clé « {newest} »")
