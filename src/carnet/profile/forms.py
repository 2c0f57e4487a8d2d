"""Forms of the medical profile: strict about bad input, messages in French next to the field."""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError

from carnet.core import clock
from carnet.core.forms import CarnetForm

from . import measures, models
from .models import PartialDate
from .vaccines import VACCINES

COMMENT_MAX = 3000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HTML = re.compile(r"[<>]")


def clean_name(value: str) -> str:
    """Short names refuse HTML and control characters (free text is escaped on output)."""
    value = (value or "").strip()
    if _HTML.search(value):
        raise ValidationError("Les caractères < et > ne sont pas acceptés.")
    if _CONTROL.search(value):
        raise ValidationError("Ce texte contient des caractères non autorisés.")
    return value


class PartialDateWidget(forms.MultiWidget):
    template_name = "profile/widgets/partial_date.html"
    is_partial_date = True

    def __init__(self, attrs=None):
        numeric = {"inputmode": "numeric"}
        super().__init__(
            [
                forms.TextInput(attrs={**numeric, "size": 2, "maxlength": 2}),
                forms.TextInput(attrs={**numeric, "size": 2, "maxlength": 2}),
                forms.TextInput(attrs={**numeric, "size": 4, "maxlength": 4}),
            ],
            attrs,
        )

    def decompress(self, value):
        if isinstance(value, PartialDate):
            return [value.day, value.month, value.year]
        return [None, None, None]


class PartialDateField(forms.MultiValueField):
    """Day and month optional, year required (between 1900 and this year)."""

    widget = PartialDateWidget

    def __init__(self, *, required=True, **kwargs):
        fields = (
            forms.IntegerField(required=False),
            forms.IntegerField(required=False),
            forms.IntegerField(required=False),
        )
        super().__init__(fields, required=required, require_all_fields=False, **kwargs)
        self.error_messages["required"] = "Saisissez au moins l'année."
        self.error_messages["invalid"] = "Saisissez des nombres : jour, mois, année."

    def compress(self, values):
        day, month, year = (list(values) + [None, None, None])[:3]
        if year is None:
            if day is not None or month is not None:
                raise ValidationError("L'année est obligatoire.")
            return None
        this_year = clock.today().year
        if not 1900 <= year <= this_year:
            raise ValidationError(f"L'année doit être comprise entre 1900 et {this_year}.")
        if day is not None and month is None:
            raise ValidationError("Précisez le mois, ou laissez le jour vide.")
        if month is not None and not 1 <= month <= 12:
            raise ValidationError("Le mois doit être compris entre 1 et 12.")
        if day is not None:
            try:
                date(year, month, day)
            except ValueError as exc:
                raise ValidationError("Cette date n'existe pas.") from exc
        value = PartialDate(year, month, day)
        if _partial_start(value) > clock.today():
            raise ValidationError("La date ne peut pas être dans le futur.")
        return value


def _partial_start(value: PartialDate) -> date:
    return date(value.year, value.month or 1, value.day or 1)


def _partial_end(value: PartialDate) -> date:
    if value.day:
        return date(value.year, value.month, value.day)
    if value.month:
        next_month = date(value.year + value.month // 12, value.month % 12 + 1, 1)
        return date.fromordinal(next_month.toordinal() - 1)
    return date(value.year, 12, 31)


def _comment(label="Commentaire", max_length=COMMENT_MAX):
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        help_text=f"{max_length} caractères au maximum.",
        widget=forms.Textarea(attrs={"rows": 4, "data-counter": max_length}),
    )


def _name(label, max_length=50, required=True):
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=required,
        help_text=f"{max_length} caractères au maximum.",
        error_messages={"required": "Ce champ est obligatoire."},
    )


class ProfileForm(CarnetForm):
    """Base of every section form: knows the owner's birth date and maps to model fields."""

    model: type
    name_fields: tuple[str, ...] = ()
    date_fields: tuple[str, ...] = ()

    def __init__(self, *args, birth_date: date | None = None, instance=None, **kwargs):
        self.birth_date = birth_date
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(instance)
        super().__init__(*args, **kwargs)

    def initial_from(self, instance) -> dict:
        initial = {}
        for name in self.base_fields:
            if name in self.date_fields:
                initial[name] = models.partial(instance, name)
            elif hasattr(instance, name):
                initial[name] = getattr(instance, name)
        return initial

    def clean(self):
        cleaned = super().clean()
        for name in self.name_fields:
            if cleaned.get(name):
                try:
                    cleaned[name] = clean_name(cleaned[name])
                except ValidationError as exc:
                    self.add_error(name, exc)
        for name in self.date_fields:
            value = cleaned.get(name)
            if value and self.birth_date and _partial_end(value) < self.birth_date:
                self.add_error(name, "La date ne peut pas être antérieure à votre naissance.")
        return cleaned

    def model_values(self) -> dict:
        """The cleaned data as model field values (partial dates spread on three columns)."""
        values = {}
        for name, value in self.cleaned_data.items():
            if name in self.date_fields:
                values[f"{name}_year"] = value.year if value else None
                values[f"{name}_month"] = value.month if value else None
                values[f"{name}_day"] = value.day if value else None
            elif name in self.model_field_names():
                values[name] = value
        return values

    @classmethod
    def model_field_names(cls) -> set[str]:
        return {f.name for f in cls.model._meta.get_fields()}


class _OngoingMixin:
    """Start required; an end when not ongoing, after the start."""

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if cleaned.get("ongoing"):
            cleaned["end"] = None
        elif start and end and _partial_end(end) < _partial_start(start):
            self.add_error("end", "La date de fin doit être postérieure à la date de début.")
        return cleaned


class ConditionForm(_OngoingMixin, ProfileForm):
    model = models.Condition
    name_fields = ("name",)
    date_fields = ("start", "end")
    name = _name("Nom")
    start = PartialDateField(label="Date de début (année obligatoire)")
    ongoing = forms.BooleanField(label="Maladie ou sujet de santé en cours", required=False)
    end = PartialDateField(
        label="Date de fin", required=False, help_text="Si elle est connue : l'année au moins."
    )
    comment = _comment()


class TreatmentForm(_OngoingMixin, ProfileForm):
    model = models.Treatment
    name_fields = ("name",)
    date_fields = ("start", "end")
    name = _name("Nom du traitement")
    ongoing = forms.BooleanField(label="Traitement en cours", required=False)
    start = PartialDateField(label="Date de début (année obligatoire)")
    end = PartialDateField(
        label="Date de fin", required=False, help_text="Si elle est connue : l'année au moins."
    )
    dosage = _comment("Posologie", 1000)
    comment = _comment()


class HospitalisationForm(ProfileForm):
    model = models.Hospitalisation
    name_fields = ("reason", "establishment")
    date_fields = ("entry",)
    reason = _name("Motif")
    entry = PartialDateField(label="Date d'entrée (année obligatoire)")
    stay_length = forms.IntegerField(
        label="Durée du séjour",
        required=False,
        min_value=1,
        max_value=999,
        help_text="3 chiffres au maximum.",
        error_messages={
            "max_value": "La durée comporte 3 chiffres au maximum.",
            "min_value": "La durée doit être d'au moins 1.",
            "invalid": "Saisissez un nombre entier.",
        },
    )
    stay_unit = forms.ChoiceField(
        label="Unité de la durée", choices=models.Hospitalisation.StayUnit.choices
    )
    establishment = _name("Établissement", 100, required=False)
    comment = _comment()


class FamilyHistoryForm(ProfileForm):
    model = models.FamilyHistory
    name_fields = ("disease",)
    disease = _name("Maladie")
    relation = forms.ChoiceField(
        label="Lien familial",
        choices=[("", "Choisissez")] + list(models.FamilyHistory.Relation.choices),
        error_messages={"required": "Choisissez le lien familial."},
    )
    comment = _comment()


class AllergyForm(ProfileForm):
    model = models.Allergy
    name_fields = ("allergen", "reaction")
    allergen = _name("Allergène")
    reaction = _name("Réaction", 100, required=False)
    severity = forms.ChoiceField(
        label="Gravité",
        required=False,
        choices=[("", "Non précisée")] + list(models.Allergy.Severity.choices),
    )
    comment = _comment()


class VaccinationForm(ProfileForm):
    model = models.Vaccination
    name_fields = ("other_name", "vaccinator", "lot")
    vaccine = forms.ChoiceField(
        label="Vaccin",
        choices=[("", "Choisissez un vaccin")] + VACCINES,
        help_text="Vaccins du calendrier vaccinal ; choisissez « Autre vaccin » s'il n'y est pas.",
        widget=forms.Select(attrs={"data-filter": "Rechercher un vaccin dans la liste"}),
        error_messages={"required": "Choisissez un vaccin."},
    )
    other_name = _name("Nom du vaccin (si « Autre vaccin »)", required=False)
    date = forms.DateField(
        label="Date de vaccination",
        input_formats=["%d/%m/%Y", "%Y-%m-%d"],
        help_text="Par exemple : 14/03/2024",
        error_messages={
            "required": "Saisissez la date de vaccination.",
            "invalid": "Saisissez une date valide au format JJ/MM/AAAA.",
        },
    )
    kind = forms.ChoiceField(label="Type", choices=models.Vaccination.Kind.choices)
    vaccinator = _name("Vaccinateur", required=False)
    lot = _name("Numéro de lot", 100, required=False)
    comment = _comment()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("vaccine") == "autre" and not cleaned.get("other_name"):
            self.add_error("other_name", "Indiquez le nom du vaccin.")
        when = cleaned.get("date")
        if when and when > clock.today():
            self.add_error("date", "La date ne peut pas être dans le futur.")
        elif when and self.birth_date and when < self.birth_date:
            self.add_error("date", "La date ne peut pas être antérieure à votre naissance.")
        return cleaned


class MeasurementForm(ProfileForm):
    model = models.Measurement
    name_fields = ("comment",)
    kind = forms.ChoiceField(
        label="Type de mesure",
        choices=[("", "Choisissez")]
        + [(t.key, f"{t.label} ({t.unit})") for t in measures.TYPED_TYPES],
        error_messages={"required": "Choisissez le type de mesure."},
    )
    value = forms.CharField(
        label="Valeur",
        max_length=12,
        help_text="Pour la tension : la systolique (le premier chiffre, par exemple 120).",
        error_messages={"required": "Saisissez la valeur."},
    )
    value2 = forms.CharField(
        label="Tension diastolique (mmHg)",
        required=False,
        max_length=12,
        help_text="Seulement pour la tension : le second chiffre, par exemple 80.",
    )
    glucose_unit = forms.ChoiceField(
        label="Unité de la glycémie",
        choices=[("g/L", "g/L"), ("mmol/L", "mmol/L")],
        required=False,
        help_text="Seulement pour la glycémie.",
    )
    taken_at = forms.DateTimeField(
        label="Date et heure",
        input_formats=["%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        required=False,
        # The French locale's first format has seconds, which input_formats refuse: an
        # unchanged measurement could not be saved again from its edit page.
        widget=forms.DateTimeInput(format="%d/%m/%Y %H:%M"),
        help_text="Par exemple : 14/03/2025 08:30. Vide : maintenant.",
        error_messages={"invalid": "Saisissez une date au format JJ/MM/AAAA HH:MM."},
    )
    comment = forms.CharField(
        label="Commentaire",
        required=False,
        max_length=150,
        help_text="150 caractères au maximum.",
    )

    def _number(self, name: str) -> Decimal | None:
        raw = (self.cleaned_data.get(name) or "").strip().replace(",", ".").replace(" ", "")
        if not raw:
            return None
        try:
            number = Decimal(raw)
        except InvalidOperation:
            self.add_error(name, "Saisissez un nombre, par exemple 72,5.")
            return None
        if not number.is_finite():
            self.add_error(name, "Saisissez un nombre, par exemple 72,5.")
            return None
        return number

    def clean(self):
        cleaned = super().clean()
        kind = measures.TYPES.get(cleaned.get("kind") or "")
        value, value2 = self._number("value"), self._number("value2")
        cleaned["value"], cleaned["value2"] = value, value2
        taken_at = cleaned.get("taken_at") or clock.now()
        if taken_at > clock.now():
            self.add_error("taken_at", "La date ne peut pas être dans le futur.")
        cleaned["taken_at"] = taken_at
        if kind is None or value is None or self.errors:
            return cleaned
        if kind.two_values:
            low, high = measures.SYSTOLIC_RANGE
            if not low <= value <= high:
                self.add_error("value", f"La systolique doit être comprise entre {low} et {high}.")
            low2, high2 = measures.DIASTOLIC_RANGE
            if value2 is None:
                self.add_error("value2", "Saisissez la tension diastolique.")
            elif not low2 <= value2 <= high2:
                self.add_error(
                    "value2", f"La diastolique doit être comprise entre {low2} et {high2}."
                )
            elif value <= value2:
                self.add_error("value2", "La diastolique doit être inférieure à la systolique.")
            return cleaned
        cleaned["value2"] = None
        if kind.key == "glycemie" and cleaned.get("glucose_unit") == "mmol/L":
            value = (value / measures.GLUCOSE_MMOL_PER_G).quantize(Decimal("0.01"))
            cleaned["value"] = value
        if not kind.low <= value <= kind.high:
            self.add_error(
                "value",
                f"La valeur doit être comprise entre {_fr(kind.low)} et {_fr(kind.high)} "
                f"{kind.unit}.",
            )
        return cleaned


def _fr(number: Decimal) -> str:
    return format(number.normalize(), "f").replace(".", ",")


class BloodGroupForm(ProfileForm):
    model = models.BloodGroup
    group = forms.ChoiceField(
        label="Groupe sanguin", choices=models.BloodGroup.Group.choices, widget=forms.RadioSelect
    )
    rhesus = forms.ChoiceField(
        label="Rhésus", choices=models.BloodGroup.Rhesus.choices, widget=forms.RadioSelect
    )


class LifestyleForm(ProfileForm):
    model = models.Lifestyle

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("tobacco", "alcohol", "activity", "sleep", "diet"):
            field = self.model._meta.get_field(name)
            self.fields[name] = forms.ChoiceField(
                label=field.verbose_name,
                required=False,
                choices=[("", "Non précisé")] + list(field.choices),
            )
            if self.instance is not None and name not in self.initial:
                self.initial[name] = getattr(self.instance, name)
        self._describe()


class DisabilityForm(ProfileForm):
    model = models.Disability
    name_fields = ("name", "aids")
    kind = forms.ChoiceField(
        label="Type de handicap",
        choices=[("", "Choisissez")] + list(models.Disability.Kind.choices),
        error_messages={"required": "Choisissez le type de handicap."},
    )
    name = _name("Nom")
    rate = forms.IntegerField(
        label="Taux d'incapacité (%)",
        required=False,
        min_value=0,
        max_value=100,
        error_messages={
            "min_value": "Le taux est compris entre 0 et 100.",
            "max_value": "Le taux est compris entre 0 et 100.",
        },
    )
    aids = _name("Aides et appareillages", 200, required=False)
    comment = _comment()


_PHONE = re.compile(r"^\+?[0-9 .\-]{6,20}$")


class CircleForm(ProfileForm):
    model = models.Circle
    name_fields = (
        "emergency_name", "emergency_relation", "trusted_name", "trusted_relation",
    )  # fmt: skip
    emergency_name = _name("Personne à prévenir en cas d'urgence : nom", required=False)
    emergency_relation = _name("Personne à prévenir : lien", required=False)
    emergency_phone = forms.CharField(
        label="Personne à prévenir : téléphone", required=False, max_length=20
    )
    trusted_name = _name("Personne de confiance : nom", required=False)
    trusted_relation = _name("Personne de confiance : lien", required=False)
    trusted_phone = forms.CharField(
        label="Personne de confiance : téléphone", required=False, max_length=20
    )
    organ_donation = forms.ChoiceField(
        label="Don d'organes",
        required=False,
        choices=models.Circle.OrganDonation.choices,
        widget=forms.RadioSelect,
    )

    def clean(self):
        cleaned = super().clean()
        for name in ("emergency_phone", "trusted_phone"):
            phone = (cleaned.get(name) or "").strip()
            # At least 6 digits: "------" or "+ . ." are not numbers one can call.
            if phone and (not _PHONE.match(phone) or sum(c.isdigit() for c in phone) < 6):
                self.add_error(
                    name, "Saisissez un numéro de téléphone, par exemple 06 12 34 56 78."
                )
        return cleaned
