from uuid import UUID

from django.core.management.base import BaseCommand, CommandError

from carnet.audit.services import SERVICE_CHAIN, chains_check

SHOWN = 50  # problems written out; the count says how many more there are


class Command(BaseCommand):
    help = (
        "Outils de la trace d'audit. « carnet audit verify » vérifie toutes les chaînes, "
        "« carnet audit verify --space ID » seulement celle d'un espace."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])
        parser.add_argument(
            "--space",
            metavar="ID",
            help="identifiant public de l'espace (ou « service » pour la chaîne du service)",
        )

    def handle(self, *args, action, space=None, **options):
        chain = _chain_of_option(space) if space is not None else None
        result = chains_check(chain)
        if chain is not None and result.chains == 0:
            raise CommandError(f"aucune trace d'audit pour l'espace {chain}")
        for problem in result.problems[:SHOWN]:
            self.stderr.write(problem)
        if len(result.problems) > SHOWN:
            self.stderr.write(f"… et {len(result.problems) - SHOWN} autre(s).")
        if result.problems:
            raise CommandError(
                f"{len(result.problems)} anomalie(s) dans la trace d'audit ; "
                f"la première : {result.problems[0]}"
            )
        self.stdout.write(
            f"trace d'audit intègre ({result.events} événements, {result.chains} chaîne(s))"
        )


def _chain_of_option(value: str) -> str:
    if value.strip() == SERVICE_CHAIN:
        return SERVICE_CHAIN
    try:
        return str(UUID(value.strip()))
    except ValueError:
        raise CommandError(f"identifiant d'espace invalide : {value!r}") from None
