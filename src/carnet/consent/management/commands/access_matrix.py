from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from carnet.audit.services import Entry, events_record
from carnet.consent.models import CategoryAccess
from carnet.core import clock


class Command(BaseCommand):
    help = (
        "Affiche ou modifie la matrice profession × catégorie de documents (ce qu'une profession "
        "peut lire). « carnet access_matrix » affiche ; « carnet access_matrix ouvrir medecin "
        "DIR_ANT --operateur VOUS » ou « fermer … » change une case (tracé dans l'audit)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", choices=["afficher", "ouvrir", "fermer"])
        parser.add_argument("profession", nargs="?")
        parser.add_argument("categorie", nargs="?")
        parser.add_argument("--operateur", default="", help="votre identifiant d'opérateur")

    def handle(self, *args, action, profession, categorie, operateur, **options):
        if action in (None, "afficher"):
            self._show()
            return
        if not (profession and categorie and operateur):
            raise CommandError(
                "indiquez la profession, la catégorie et --operateur, par exemple : "
                "carnet access_matrix ouvrir pharmacien CPT_REND --operateur a.martin"
            )
        allowed = action == "ouvrir"
        with transaction.atomic():
            updated = CategoryAccess.objects.filter(
                profession=profession, category=categorie
            ).update(allowed=allowed, updated_by=f"operateur:{operateur}", updated_at=clock.now())
            if not updated:
                raise CommandError(f"case inconnue : {profession} × {categorie}")
            events_record(
                [
                    Entry(
                        actor=f"operateur:{operateur}",
                        action="matrice_acces_modifiee",
                        detail={
                            "profession": profession,
                            "categorie": categorie,
                            "ouvert": allowed,
                        },
                    )
                ]
            )
        self.stdout.write(f"{profession} × {categorie} : {'ouvert' if allowed else 'fermé'}")

    def _show(self):
        cells = CategoryAccess.objects.order_by("profession", "category")
        current = None
        for cell in cells:
            if cell.profession != current:
                current = cell.profession
                self.stdout.write(f"{current} :")
            self.stdout.write(f"  {cell.category:<12} {'oui' if cell.allowed else '—'}")
