"""The medical profile: one model per section, each row owned by a space.

Dates a person remembers only partly ("en 2015", "en mars 2015") are stored as three
columns (year required, month and day optional); see `PartialDate`.
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import models

from carnet.core.french import MONTHS


@dataclass(frozen=True, order=True)
class PartialDate:
    year: int
    month: int | None = None
    day: int | None = None

    def __str__(self):
        if self.month and self.day:
            return f"{self.day} {MONTHS[self.month - 1]} {self.year}"
        if self.month:
            return f"{MONTHS[self.month - 1]} {self.year}"
        return str(self.year)

    def sort_key(self) -> tuple[int, int, int]:
        return (self.year, self.month or 0, self.day or 0)


def partial(obj, prefix: str) -> PartialDate | None:
    year = getattr(obj, f"{prefix}_year")
    if year is None:
        return None
    return PartialDate(year, getattr(obj, f"{prefix}_month"), getattr(obj, f"{prefix}_day"))


class Entry(models.Model):
    """What every profile row has: its space, an opaque id, its author and its times."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # PROTECT: health data goes away only through the space's purge, never by cascade.
    space = models.ForeignKey("enrollment.Space", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Deletions are soft (DESIGN invariant 5): hidden at once, purged with the space.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def summary(self) -> list[tuple[str, str]]:
        from .sections import summary  # sections import the models

        return summary(self)


class Condition(Entry):
    name = models.CharField("Nom", max_length=50)
    start_year = models.PositiveSmallIntegerField()
    start_month = models.PositiveSmallIntegerField(null=True, blank=True)
    start_day = models.PositiveSmallIntegerField(null=True, blank=True)
    ongoing = models.BooleanField("Maladie ou sujet de santé en cours", default=False)
    end_year = models.PositiveSmallIntegerField(null=True, blank=True)
    end_month = models.PositiveSmallIntegerField(null=True, blank=True)
    end_day = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField("Commentaire", max_length=3000, blank=True)

    class Meta:
        ordering = ["-start_year", "-start_month", "-start_day", "-id"]

    def __str__(self):
        return self.name


class Treatment(Entry):
    name = models.CharField("Nom du traitement", max_length=50)
    ongoing = models.BooleanField("Traitement en cours", default=False)
    start_year = models.PositiveSmallIntegerField()
    start_month = models.PositiveSmallIntegerField(null=True, blank=True)
    start_day = models.PositiveSmallIntegerField(null=True, blank=True)
    end_year = models.PositiveSmallIntegerField(null=True, blank=True)
    end_month = models.PositiveSmallIntegerField(null=True, blank=True)
    end_day = models.PositiveSmallIntegerField(null=True, blank=True)
    dosage = models.TextField("Posologie", max_length=1000, blank=True)
    comment = models.TextField("Commentaire", max_length=3000, blank=True)

    class Meta:
        ordering = ["-start_year", "-start_month", "-start_day", "-id"]

    def __str__(self):
        return self.name


class Hospitalisation(Entry):
    class StayUnit(models.TextChoices):
        DAYS = "jours", "jours"
        WEEKS = "semaines", "semaines"
        MONTHS = "mois", "mois"
        YEARS = "annees", "années"

    reason = models.CharField("Motif", max_length=50)
    entry_year = models.PositiveSmallIntegerField()
    entry_month = models.PositiveSmallIntegerField(null=True, blank=True)
    entry_day = models.PositiveSmallIntegerField(null=True, blank=True)
    stay_length = models.PositiveSmallIntegerField("Durée du séjour", null=True, blank=True)
    stay_unit = models.CharField(
        "Unité", max_length=10, choices=StayUnit.choices, default=StayUnit.DAYS
    )
    establishment = models.CharField("Établissement", max_length=100, blank=True)
    comment = models.TextField("Commentaire", max_length=3000, blank=True)

    class Meta:
        ordering = ["-entry_year", "-entry_month", "-entry_day", "-id"]

    def __str__(self):
        return self.reason


class FamilyHistory(Entry):
    class Relation(models.TextChoices):
        MOTHER = "mere", "mère"
        FATHER = "pere", "père"
        GRANDMOTHER = "grand-mere", "grand-mère"
        GRANDFATHER = "grand-pere", "grand-père"
        SISTER = "soeur", "sœur"
        BROTHER = "frere", "frère"
        GREAT_GRANDMOTHER = "arriere-grand-mere", "arrière-grand-mère"
        GREAT_GRANDFATHER = "arriere-grand-pere", "arrière-grand-père"
        AUNT = "tante", "tante"
        UNCLE = "oncle", "oncle"
        OTHER = "autre", "autre"

    disease = models.CharField("Maladie", max_length=50)
    relation = models.CharField("Lien familial", max_length=20, choices=Relation.choices)
    comment = models.TextField("Commentaire", max_length=3000, blank=True)

    class Meta:
        ordering = ["disease", "id"]

    def __str__(self):
        return self.disease


class Allergy(Entry):
    class Severity(models.TextChoices):
        MILD = "legere", "légère"
        MODERATE = "moderee", "modérée"
        SEVERE = "severe", "sévère"

    allergen = models.CharField("Allergène", max_length=50)
    reaction = models.CharField("Réaction", max_length=100, blank=True)
    severity = models.CharField("Gravité", max_length=10, choices=Severity.choices, blank=True)
    comment = models.TextField("Commentaire", max_length=3000, blank=True)

    class Meta:
        ordering = ["allergen", "id"]

    def __str__(self):
        return self.allergen


class Vaccination(Entry):
    class Kind(models.TextChoices):
        FIRST = "primo", "première vaccination"
        BOOSTER = "rappel", "rappel"
        UNKNOWN = "inconnu", "je ne sais pas"

    vaccine = models.CharField("Vaccin", max_length=40)  # a code of the reference list
    other_name = models.CharField("Nom du vaccin", max_length=50, blank=True)
    date = models.DateField("Date de vaccination")
    kind = models.CharField("Type", max_length=10, choices=Kind.choices, default=Kind.UNKNOWN)
    vaccinator = models.CharField("Vaccinateur", max_length=50, blank=True)
    lot = models.CharField("Numéro de lot", max_length=100, blank=True)
    comment = models.TextField("Commentaire", max_length=3000, blank=True)

    class Meta:
        ordering = ["-date", "-id"]

    def __str__(self):
        from .vaccines import LABELS

        return self.other_name or LABELS.get(self.vaccine, self.vaccine)


class Measurement(Entry):
    kind = models.CharField("Type de mesure", max_length=20)  # a key of measures.TYPES
    value = models.DecimalField("Valeur", max_digits=8, decimal_places=2)
    value2 = models.DecimalField("Seconde valeur", max_digits=8, decimal_places=2, null=True)
    taken_at = models.DateTimeField("Date et heure")
    comment = models.CharField("Commentaire", max_length=150, blank=True)

    class Meta:
        ordering = ["kind", "-taken_at", "-id"]
        indexes = [models.Index(fields=["space", "kind", "taken_at"], name="measure_space_kind")]

    def __str__(self):
        return f"{self.kind} {self.value}"


class BloodGroup(Entry):
    class Group(models.TextChoices):
        A = "A", "A"
        B = "B", "B"
        AB = "AB", "AB"
        O = "O", "O"  # noqa: E741
        UNKNOWN = "inconnu", "je ne sais pas"

    class Rhesus(models.TextChoices):
        POSITIVE = "+", "Rhésus positif (+)"
        NEGATIVE = "-", "Rhésus négatif (−)"
        UNKNOWN = "inconnu", "je ne sais pas"

    group = models.CharField("Groupe", max_length=10, choices=Group.choices)
    rhesus = models.CharField("Rhésus", max_length=10, choices=Rhesus.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space"],
                condition=models.Q(deleted_at__isnull=True),
                name="one_blood_group",
            )
        ]

    def __str__(self):
        return f"{self.group}{self.rhesus}"


class Lifestyle(Entry):
    class Tobacco(models.TextChoices):
        NEVER = "jamais", "je n'ai jamais fumé"
        FORMER = "ancien", "j'ai arrêté"
        OCCASIONAL = "occasionnel", "occasionnellement"
        DAILY = "quotidien", "tous les jours"

    class Alcohol(models.TextChoices):
        NEVER = "jamais", "jamais"
        OCCASIONAL = "occasionnel", "occasionnellement"
        WEEKLY = "hebdomadaire", "chaque semaine"
        DAILY = "quotidien", "tous les jours"

    class Activity(models.TextChoices):
        LOW = "faible", "moins de 30 min par semaine"
        MODERATE = "moderee", "30 à 150 min par semaine"
        HIGH = "elevee", "plus de 150 min par semaine"

    class Sleep(models.TextChoices):
        SHORT = "court", "moins de 6 h par nuit"
        NORMAL = "normal", "6 à 9 h par nuit"
        LONG = "long", "plus de 9 h par nuit"

    class Diet(models.TextChoices):
        OMNIVORE = "omnivore", "omnivore"
        VEGETARIAN = "vegetarien", "végétarien"
        VEGAN = "vegetalien", "végétalien"
        OTHER = "autre", "autre régime"

    tobacco = models.CharField("Tabac", max_length=15, choices=Tobacco.choices, blank=True)
    alcohol = models.CharField("Alcool", max_length=15, choices=Alcohol.choices, blank=True)
    activity = models.CharField(
        "Activité physique", max_length=15, choices=Activity.choices, blank=True
    )
    sleep = models.CharField("Sommeil", max_length=15, choices=Sleep.choices, blank=True)
    diet = models.CharField("Alimentation", max_length=15, choices=Diet.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space"], condition=models.Q(deleted_at__isnull=True), name="one_lifestyle"
            )
        ]

    def __str__(self):
        return "Habitudes de vie"


class Disability(Entry):
    class Kind(models.TextChoices):
        MOTOR = "moteur", "moteur"
        SENSORY = "sensoriel", "sensoriel"
        MENTAL = "mental", "mental"
        PSYCHIC = "psychique", "psychique"
        COGNITIVE = "cognitif", "cognitif"
        DISABLING = "invalidant", "maladie invalidante"
        OTHER = "autre", "autre"

    kind = models.CharField("Type de handicap", max_length=15, choices=Kind.choices)
    name = models.CharField("Nom", max_length=50)
    rate = models.PositiveSmallIntegerField("Taux d'incapacité (%)", null=True, blank=True)
    aids = models.CharField("Aides et appareillages", max_length=200, blank=True)
    comment = models.TextField("Commentaire", max_length=3000, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Circle(Entry):
    """Entourage et volontés: who to call, who to trust, and the person's wishes."""

    class OrganDonation(models.TextChoices):
        UNSAID = "", "je ne souhaite pas le préciser"
        FOR = "pour", "je suis favorable au don d'organes"
        AGAINST = "contre", "je suis opposé(e) au don d'organes"

    emergency_name = models.CharField("Nom de la personne à prévenir", max_length=50, blank=True)
    emergency_relation = models.CharField("Lien", max_length=50, blank=True)
    emergency_phone = models.CharField("Téléphone", max_length=20, blank=True)
    trusted_name = models.CharField("Nom de la personne de confiance", max_length=50, blank=True)
    trusted_relation = models.CharField("Lien", max_length=50, blank=True)
    trusted_phone = models.CharField("Téléphone", max_length=20, blank=True)
    organ_donation = models.CharField(
        "Don d'organes", max_length=10, choices=OrganDonation.choices, blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space"], condition=models.Q(deleted_at__isnull=True), name="one_circle"
            )
        ]

    def __str__(self):
        return "Entourage et volontés"
