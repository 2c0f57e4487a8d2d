"""Forms of the professional's activation: identifier and password, then the first TOTP code."""

from django import forms
from django.core.exceptions import ValidationError

from carnet.accounts.passwords import (
    check_confirmation,
    confirmation_field,
    new_password_field,
    password_validate,
)
from carnet.core.forms import CarnetForm
from carnet.core.validators import parse_identifier


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


class TotpCodeForm(CarnetForm):
    code = forms.CharField(
        label="Code affiché par l'application",
        help_text="6 chiffres, renouvelés toutes les 30 secondes.",
        min_length=6,
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        error_messages={
            "required": "Saisissez le code affiché par votre application.",
            "min_length": "Le code comporte 6 chiffres.",
            "max_length": "Le code comporte 6 chiffres.",
        },
    )

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not (code.isascii() and code.isdigit()):
            raise forms.ValidationError("Le code ne contient que des chiffres.")
        return code
