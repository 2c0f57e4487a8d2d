from django.core.management.base import BaseCommand

from carnet.tick import run_tick


class Command(BaseCommand):
    help = (
        "Lance les traitements périodiques (création automatique des espaces, purges, fichiers "
        "orphelins, envoi des messages). Idempotent : peut être lancé deux fois."
    )

    def handle(self, *args, **options):
        results = run_tick()
        for name, count in results.items():
            self.stdout.write(f"{name}: {count}")
