from django.core.management.base import BaseCommand, CommandError

from carnet.audit.models import Event
from carnet.audit.services import chains_verify


class Command(BaseCommand):
    help = "Outils de la trace d'audit. « carnet audit verify » vérifie toutes les chaînes."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args, action, **options):
        problems = chains_verify()
        for problem in problems[:50]:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} anomalie(s) dans la trace d'audit")
        self.stdout.write(f"trace d'audit intègre ({Event.objects.count()} événements)")
