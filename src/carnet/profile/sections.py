"""The sections of the profile: URL slug, model, form, title and what the empty state says."""

from dataclasses import dataclass

from . import forms, models


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    model: type
    form: type
    explanation: str
    single: bool = False  # one entry per space (blood group, lifestyle, circle)


SECTIONS = {
    s.slug: s
    for s in [
        Section("maladies", "Maladies et sujets de santé", models.Condition, forms.ConditionForm,
                "Notez vos maladies, actuelles ou passées, et les sujets de santé qui vous "
                "concernent (grossesse, dépression, diabète…)."),
        Section("traitements", "Traitements", models.Treatment, forms.TreatmentForm,
                "Les médicaments et traitements que vous prenez ou avez pris, avec leur "
                "posologie."),
        Section("hospitalisations", "Hospitalisations et chirurgies", models.Hospitalisation,
                forms.HospitalisationForm,
                "Vos séjours à l'hôpital et vos opérations, avec leur date et leur durée."),
        Section("antecedents-familiaux", "Antécédents familiaux", models.FamilyHistory,
                forms.FamilyHistoryForm,
                "Les maladies de vos proches parents qui peuvent compter pour votre santé."),
        Section("allergies", "Allergies", models.Allergy, forms.AllergyForm,
                "Ce à quoi vous êtes allergique, la réaction et sa gravité."),
        Section("vaccinations", "Vaccinations", models.Vaccination, forms.VaccinationForm,
                "Vos vaccins et rappels, pour savoir où vous en êtes."),
        Section("mesures", "Mesures", models.Measurement, forms.MeasurementForm,
                "Poids, taille, tension, température, glycémie… suivez leur évolution."),
        Section("groupe-sanguin", "Groupe sanguin", models.BloodGroup, forms.BloodGroupForm,
                "Votre groupe sanguin et votre rhésus.", single=True),
        Section("habitudes-de-vie", "Habitudes de vie", models.Lifestyle, forms.LifestyleForm,
                "Tabac, alcool, activité physique, sommeil et alimentation.", single=True),
        Section("handicaps", "Handicaps", models.Disability, forms.DisabilityForm,
                "Un handicap, son taux et les aides qui vous accompagnent."),
        Section("entourage", "Entourage et volontés", models.Circle, forms.CircleForm,
                "Qui prévenir en cas d'urgence, votre personne de confiance, et votre position "
                "sur le don d'organes.", single=True),
    ]
}  # fmt: skip


INTERNAL = {"id", "public_id", "space", "author", "created_at", "updated_at", "deleted_at"}
DATE_PREFIXES = ("start", "end", "entry")


def summary(obj) -> list[tuple[str, str]]:
    """(label, text) pairs describing an entry, in French, for lists and the synthesis."""
    from . import measures
    from .vaccines import LABELS

    rows: list[tuple[str, str]] = []
    done: set[str] = set()
    for field in obj._meta.get_fields():
        name = getattr(field, "name", "")
        if name in INTERNAL or name in done or not getattr(field, "concrete", False):
            continue
        prefix = next((p for p in DATE_PREFIXES if name == f"{p}_year"), None)
        if prefix:
            done.update({f"{prefix}_month", f"{prefix}_day"})
            value = models.partial(obj, prefix)
            label = {"start": "Début", "end": "Fin", "entry": "Date d'entrée"}[prefix]
            if value:
                rows.append((label, str(value)))
            continue
        if name.endswith(("_month", "_day")):
            continue
        value = getattr(obj, name)
        if value in (None, "", False):
            continue
        if isinstance(obj, models.Measurement):
            continue  # measurements are shown with their own layout
        if name == "vaccine":
            text = LABELS.get(value, value)
        elif getattr(field, "choices", None):
            text = getattr(obj, f"get_{name}_display")()
        elif value is True:
            text = "oui"
        elif hasattr(value, "strftime"):
            text = value.strftime("%d/%m/%Y")
        else:
            text = str(value)
        rows.append((str(field.verbose_name).capitalize(), text))
    if isinstance(obj, models.Measurement):
        kind = measures.TYPES.get(obj.kind)
        value = f"{obj.value.normalize():f}".replace(".", ",")
        if obj.value2 is not None:
            value += f"/{obj.value2.normalize():f}"
        rows.append((kind.label if kind else obj.kind, f"{value} {kind.unit if kind else ''}"))
    return rows
