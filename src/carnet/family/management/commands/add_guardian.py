import re
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from carnet.family.protection import (
    ADDED,
    CHANGED,
    ProtectionError,
    protection_measure_add,
    protection_measure_end,
)

ACTOR = "operateur:cli"
FRENCH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")  # JJ/MM/AAAA
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")  # AAAA-MM-JJ


def _date(value: str) -> date:
    value = value.strip()
    try:
        if found := FRENCH_DATE.fullmatch(value):
            day, month, year = map(int, found.groups())
            return date(year, month, day)
        if found := ISO_DATE.fullmatch(value):
            year, month, day = map(int, found.groups())
            return date(year, month, day)
    except ValueError:
        pass  # 31/02, 13th month…: said below
    raise CommandError(f"date de fin invalide « {value} » : écrivez-la JJ/MM/AAAA (ou AAAA-MM-JJ).")


class Command(BaseCommand):
    help = (
        "Enregistre une mesure de protection d'un majeur (tutelle ou curatelle) : le tuteur ou "
        "curateur gère l'espace santé de la personne protégée comme un parent celui de son "
        "enfant, jusqu'à la date de fin incluse. La personne protégée garde son propre accès. "
        "Avec --end, met fin à la mesure. L'action est tracée dans l'espace de la personne "
        "protégée."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "adult_nir",
            metavar="NIR_PERSONNE_PROTEGEE",
            nargs="?",
            default="",
            help="le NIR de la personne majeure protégée",
        )
        parser.add_argument(
            "guardian_nir",
            metavar="NIR_TUTEUR",
            nargs="?",
            default="",
            help="le NIR du tuteur ou curateur (qui doit avoir un compte Carnet actif)",
        )
        parser.add_argument("--kind", default="", help="tutelle ou curatelle")
        parser.add_argument(
            "--until",
            default="",
            metavar="JJ/MM/AAAA",
            help="la date de fin de la mesure, incluse (JJ/MM/AAAA ou AAAA-MM-JJ)",
        )
        parser.add_argument(
            "--end", action="store_true", help="met fin à la mesure en cours entre ces personnes"
        )

    def handle(self, *args, adult_nir, guardian_nir, kind, until, end, **options):
        if not adult_nir or not guardian_nir:
            raise CommandError(
                "indiquez le NIR de la personne protégée puis celui du tuteur ou curateur."
            )
        try:
            if end:
                if kind or until:
                    raise CommandError("--end ne prend ni --kind ni --until.")
                link = protection_measure_end(
                    adult_nir=adult_nir, guardian_nir=guardian_nir, actor=ACTOR
                )
                self.stdout.write(f"mesure de {link.kind} levée (lien {link.public_id})")
                return
            if not kind:
                raise CommandError("indiquez la mesure : --kind tutelle ou --kind curatelle.")
            if not until:
                raise CommandError("indiquez la date de fin de la mesure : --until JJ/MM/AAAA.")
            link = protection_measure_add(
                adult_nir=adult_nir,
                guardian_nir=guardian_nir,
                kind=kind,
                until=_date(until),
                actor=ACTOR,
            )
        except ProtectionError as exc:
            raise CommandError(str(exc)) from exc
        until_fr, ref = f"{link.until:%d/%m/%Y}", f"(lien {link.public_id})"
        if link.outcome == ADDED:
            line = f"mesure de {link.kind} enregistrée jusqu'au {until_fr} inclus {ref}"
        elif link.outcome == CHANGED:
            line = f"mesure mise à jour : {link.kind} jusqu'au {until_fr} inclus {ref}"
        else:
            line = (
                f"mesure de {link.kind} jusqu'au {until_fr} déjà enregistrée : "
                f"rien n'a changé {ref}"
            )
        self.stdout.write(line)
