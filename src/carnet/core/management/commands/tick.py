from django.core.management.base import BaseCommand, CommandError

from carnet.tick import database_not_ready, run_tick


class Command(BaseCommand):
    help = (
        "Lance les traitements périodiques (création automatique des espaces, purges, fichiers "
        "orphelins, envoi des messages). Idempotent : peut être lancé deux fois."
    )

    def handle(self, *args, **options):
        if reason := database_not_ready():
            raise CommandError(f"Traitements non lancés : {reason}")
        results = run_tick()
        for name, count in results.items():
            self.stdout.write(f"{name}: {'échec' if count is None else count}")
        failed = [name for name, count in results.items() if count is None]
        if failed:  # a non-zero exit for cron or the scheduler; the errors are in the log
            raise CommandError(f"Traitements en échec : {', '.join(failed)} (voir le journal).")
