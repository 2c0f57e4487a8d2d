"""Forms of the professional's activation: identifier and password, then the first TOTP code."""

from django import forms
from django.core.exceptions import ValidationError

from carnet.accounts.forms import CodeForm
from carnet.accounts.passwords import (
    check_confirmation,
    confirmation_field,
    new_password_field,
    password_validate,
)
from carnet.consent.models import EMERGENCY_REASON_MAX, EMERGENCY_REASON_MIN
from carnet.core.forms import CarnetForm
from carnet.core.validators import parse_identifier, parse_nir
from carnet.documents.forms import UploadForm


class ProCredentialsForm(CarnetForm):
    identifier = forms.CharField(
        label="Identifiant",
        help_text=(
            "De 8 à 100 caractères : lettres minuscules sans accent, chiffres, et . - _ "
            "(une adresse e-mail n'est pas acceptée)."
        ),
        max_length=100,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "off", "spellcheck": "false"}
        ),
        error_messages={"required": "Choisissez un identifiant."},
    )
    password = new_password_field("Mot de passe", "Choisissez un mot de passe.")
    password_confirm = confirmation_field(
        "Confirmation du mot de passe", "Saisissez à nouveau votre mot de passe."
    )

    def __init__(self, *args, professional=None, **kwargs):
        self.professional = professional
        super().__init__(*args, **kwargs)

    def clean_identifier(self):
        return parse_identifier(self.cleaned_data["identifier"])

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            try:
                password_validate(
                    password,
                    identifier=cleaned.get("identifier", ""),
                    person=self.professional,
                )
            except ValidationError as exc:
                self.add_error("password", exc)
        check_confirmation(self, cleaned, "password", "password_confirm")
        return cleaned


class TotpCodeForm(CodeForm):
    """The login's 6-digit code field, worded for the authenticator being set up."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["code"]
        field.label = "Code affiché par l'application"
        field.help_text = "6 chiffres, renouvelés toutes les 30 secondes."
        field.error_messages["required"] = "Saisissez le code affiché par votre application."


# --- The pro portal ------------------------------------------------------------------------------


class PatientSearchForm(CarnetForm):
    nir = forms.CharField(
        label="INS (numéro de sécurité sociale)",
        max_length=40,  # spaces and dots allowed around the 15 characters
        help_text="Les 15 caractères, clé comprise. Par exemple : 2 80 05 75 111 222 33.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
        error_messages={
            "required": "Indiquez le numéro de sécurité sociale du patient.",
            "max_length": "Le numéro de sécurité sociale doit comporter 15 caractères.",
        },
    )
    birth_date = forms.DateField(
        label="Date de naissance",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        help_text="Par exemple : 17/05/1980.",
        error_messages={
            "required": "Indiquez la date de naissance du patient.",
            "invalid": "Indiquez une date valide, par exemple 17/05/1980.",
        },
    )

    def clean_nir(self):
        return parse_nir(self.cleaned_data["nir"])


class ConsentAttestForm(CarnetForm):
    attest = forms.BooleanField(
        label="J'atteste avoir recueilli le consentement du patient",
        error_messages={
            "required": "Cochez la case pour attester avoir recueilli le consentement du patient."
        },
    )


class EmergencyForm(CarnetForm):
    kind = forms.ChoiceField(
        label="Situation",
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choisissez la situation d'urgence.",
            "invalid_choice": "Choisissez une situation de la liste.",
        },
    )
    reason = forms.CharField(
        label="Motif de l'accès en urgence",
        widget=forms.Textarea(attrs={"rows": 4}),
        min_length=EMERGENCY_REASON_MIN,
        max_length=EMERGENCY_REASON_MAX,
        help_text=(
            f"De {EMERGENCY_REASON_MIN} à {EMERGENCY_REASON_MAX} caractères. Le patient pourra "
            "le lire dans l'historique des accès."
        ),
        error_messages={
            "required": "Indiquez le motif de l'accès en urgence.",
            "min_length": f"Le motif doit comporter au moins {EMERGENCY_REASON_MIN} caractères.",
            "max_length": f"Le motif ne doit pas dépasser {EMERGENCY_REASON_MAX} caractères.",
        },
    )

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = choices
        if len(choices) == 1:
            self.initial.setdefault("kind", choices[0][0])

    def clean_reason(self):
        reason = " ".join(self.cleaned_data["reason"].split())
        if len(reason) < EMERGENCY_REASON_MIN:
            raise ValidationError(self.fields["reason"].error_messages["min_length"])
        return reason


class ProfessionalUploadForm(UploadForm):
    """The portal's "Ajouter un document": the document form, and withholding a result."""

    withhold = forms.BooleanField(
        label="Retenir ce document jusqu'à la consultation d'annonce (au plus 1 mois)",
        required=False,
        help_text=(
            "Le patient ne le voit pas : il est informé après 14 jours qu'un document l'attend, "
            "et le document lui est présenté au plus tard 1 mois après son ajout."
        ),
    )
