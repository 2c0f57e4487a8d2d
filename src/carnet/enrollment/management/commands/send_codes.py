from django.core.management.base import BaseCommand

from carnet.core.progress import progress_bar
from carnet.enrollment.services import codes_send
from carnet.registry.models import InsuredPerson


class Command(BaseCommand):
    help = (
        "Émet un code provisoire pour chaque assuré sans espace : par e-mail quand l'adresse est "
        "connue, sinon dans un lot de courriers PDF (var/letters/)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="nombre maximal d'assurés")

    def handle(self, *args, limit, **options):
        total = InsuredPerson.objects.filter(space__isnull=True).count()
        if limit is not None:
            total = min(total, limit)
        with progress_bar("Émission des codes", total=total, unit="assurés") as advance:
            report = codes_send(limit=limit, progress=advance)
        self.stdout.write(
            f"{report.emails} codes envoyés par e-mail, {report.letters} par courrier"
        )
        for path in report.letter_files:
            self.stdout.write(f"lot de courriers : {path}")
