"""Forms of share links: every rule checked here, on the server, whatever the browser said."""

import re
import unicodedata
from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import formats

from carnet.core.forms import CarnetForm

# The durations offered in the list (those up to SHARE_MAX_VALIDITY): "<n>h" or "<n>j".
VALIDITY_CHOICES = [
    ("1h", "1 heure"),
    ("24h", "24 heures"),
    ("3j", "3 jours"),
    ("7j", "7 jours"),
    ("30j", "30 jours"),
]
_VALIDITY = re.compile(r"([0-9]{1,4})([hj])")
INVISIBLE = {"Cc", "Cf", "Cs"}
NAME_FORBIDDEN = set("<>")


class ValidityRefused(ValueError):
    pass


def validity_text(value: timedelta) -> str:
    """24 h → "24h", 3 days → "3j": the list's value for a duration."""
    hours = int(value.total_seconds() // 3600)
    return f"{hours // 24}j" if hours % 24 == 0 and hours >= 48 else f"{hours}h"


def parse_validity(raw: str) -> timedelta:
    """ "24h" or "7j" → the duration, between one hour and SHARE_MAX_VALIDITY; anything else is
    refused with ValidityRefused (its message in French)."""
    found = _VALIDITY.fullmatch((raw or "").strip())
    if found is None:
        raise ValidityRefused("Choisissez une durée de validité dans la liste.")
    number, unit = int(found[1]), found[2]
    value = timedelta(hours=number) if unit == "h" else timedelta(days=number)
    if value <= timedelta(0):
        raise ValidityRefused("Choisissez une durée de validité dans la liste.")
    maximum = settings.CARNET["SHARE_MAX_VALIDITY"]
    if value > maximum:
        raise ValidityRefused(f"Un lien de partage est valable {maximum.days} jours au plus.")
    return value


def _clean_text(value: str) -> str:
    text = "".join(c for c in value if unicodedata.category(c) not in INVISIBLE)
    return " ".join(text.split())


class ShareForm(CarnetForm):
    label = forms.CharField(
        label="Nom du partage",
        error_messages={"required": "Donnez un nom à ce partage."},
    )
    documents = forms.MultipleChoiceField(
        label="Documents à partager",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choisissez les documents dans la liste."},
    )
    include_synthesis = forms.BooleanField(
        label="Ma synthèse médicale (PDF, à jour à chaque ouverture)", required=False
    )
    validity = forms.CharField(
        label="Durée de validité du lien",
        widget=forms.Select(choices=VALIDITY_CHOICES),
        error_messages={"required": "Choisissez une durée de validité."},
    )
    passcode = forms.CharField(
        label="Code d'accès",
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, documents=(), **kwargs):
        super().__init__(*args, **kwargs)
        limits = settings.CARNET
        label_max = limits["SHARE_LABEL_MAX_LENGTH"]
        self.fields["label"].widget.attrs["maxlength"] = str(label_max)
        self.fields["label"].help_text = (
            "Pour vous y retrouver, par exemple « Urgences Lyon » ou « Dr Smith, Londres ». "
            f"{label_max} caractères au plus."
        )
        self.fields["documents"].choices = [
            (str(doc.public_id), _document_label(doc)) for doc in documents
        ]
        self.fields["documents"].help_text = (
            f"{limits['SHARE_MAX_DOCUMENTS']} documents au plus. Un document que vous supprimez "
            "ensuite n'est plus visible par ce lien."
        )
        maximum = limits["SHARE_MAX_VALIDITY"]
        choices = [(v, t) for v, t in VALIDITY_CHOICES if parse_validity_or_none(v) is not None]
        self.fields["validity"].widget.choices = choices
        self.fields["validity"].help_text = (
            f"Le lien cesse de fonctionner après ce délai ({maximum.days} jours au plus). "
            "Vous pouvez aussi le révoquer à tout moment."
        )
        if not self.is_bound:
            self.initial.setdefault("validity", validity_text(limits["SHARE_DEFAULT_VALIDITY"]))
        low, high = limits["SHARE_PASSCODE_MIN_LENGTH"], limits["SHARE_PASSCODE_MAX_LENGTH"]
        self.fields["passcode"].widget.attrs["maxlength"] = str(high)
        self.fields["passcode"].help_text = (
            f"Facultatif, de {low} à {high} caractères. Il sera demandé à l'ouverture du lien : "
            "communiquez-le à part (de vive voix, par téléphone), jamais avec le lien."
        )
        self._describe()

    def clean_label(self):
        label = _clean_text(self.cleaned_data.get("label", ""))
        if not label:
            raise forms.ValidationError("Donnez un nom à ce partage.")
        if any(c in NAME_FORBIDDEN for c in label):
            raise forms.ValidationError("Le nom ne doit pas contenir les caractères < ou >.")
        maximum = settings.CARNET["SHARE_LABEL_MAX_LENGTH"]
        if len(label) > maximum:
            raise forms.ValidationError(f"Le nom ne doit pas dépasser {maximum} caractères.")
        return label

    def clean_documents(self):
        chosen = self.cleaned_data.get("documents", [])
        maximum = settings.CARNET["SHARE_MAX_DOCUMENTS"]
        if len(chosen) > maximum:
            raise forms.ValidationError(f"Choisissez {maximum} documents au plus.")
        return chosen

    def clean_validity(self):
        try:
            return parse_validity(self.cleaned_data.get("validity", ""))
        except ValidityRefused as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_passcode(self):
        passcode = self.cleaned_data.get("passcode", "")
        if not passcode:
            return ""
        low = settings.CARNET["SHARE_PASSCODE_MIN_LENGTH"]
        high = settings.CARNET["SHARE_PASSCODE_MAX_LENGTH"]
        if any(unicodedata.category(c) in INVISIBLE for c in passcode):
            raise forms.ValidationError("Le code ne doit contenir que des caractères visibles.")
        if not low <= len(passcode) <= high:
            raise forms.ValidationError(f"Le code doit faire de {low} à {high} caractères.")
        return passcode

    def clean(self):
        cleaned = super().clean()
        if (
            "documents" not in self.errors
            and not cleaned.get("documents")
            and not cleaned.get("include_synthesis")
        ):
            self.add_error(
                "documents", "Choisissez au moins un document ou votre synthèse médicale."
            )
        return cleaned


def parse_validity_or_none(raw: str) -> timedelta | None:
    try:
        return parse_validity(raw)
    except ValidityRefused:
        return None


def _document_label(doc) -> str:
    day = formats.date_format(doc.document_date, "j F Y", use_l10n=True)
    return f"{doc.title} — {doc.get_category_display()}, {day}"


class PasscodeForm(CarnetForm):
    passcode = forms.CharField(
        label="Code d'accès",
        strip=True,
        help_text="Le code que la personne qui vous a envoyé ce lien vous a communiqué.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": "Saisissez le code d'accès."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        high = settings.CARNET["SHARE_PASSCODE_MAX_LENGTH"]
        self.fields["passcode"].widget.attrs["maxlength"] = str(high)
        self._describe()

    def clean_passcode(self):
        passcode = self.cleaned_data["passcode"]
        high = settings.CARNET["SHARE_PASSCODE_MAX_LENGTH"]
        if len(passcode) > high:
            raise forms.ValidationError(f"Le code d'accès fait {high} caractères au plus.")
        return passcode
