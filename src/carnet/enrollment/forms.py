"""Forms of the activation wizard; messages in French, next to their field."""

from django import forms
from django.core.exceptions import ValidationError

from carnet.accounts.passwords import (
    check_confirmation,
    confirmation_field,
    new_password_field,
)
from carnet.core.forms import CarnetForm
from carnet.core.validators import parse_mobile, parse_nir, parse_vitale_serial

DATE_FORMATS = ["%d/%m/%Y", "%d%m%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"]
CARD_CHOICES = [
    ("sans_photo", "Carte Vitale sans photo"),
    ("avec_photo", "Carte Vitale avec photo"),
]


def _date_field():
    return forms.DateField(
        label="Date de naissance",
        input_formats=DATE_FORMATS,
        help_text="Par exemple : 14/03/1985",
        widget=forms.TextInput(attrs={"autocomplete": "bday", "inputmode": "numeric"}),
        error_messages={
            "required": "Saisissez votre date de naissance.",
            "invalid": "Saisissez une date valide au format JJ/MM/AAAA, par exemple 14/03/1985.",
        },
    )


class PersonFieldsMixin(forms.Form):
    nir = forms.CharField(
        label="Numéro de sécurité sociale",
        help_text="15 caractères, inscrits sur votre carte Vitale. Les espaces sont acceptés.",
        max_length=25,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": "Saisissez votre numéro de sécurité sociale."},
    )
    birth_date = _date_field()
    card_model = forms.ChoiceField(
        label="Modèle de carte Vitale",
        choices=CARD_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": "Indiquez le modèle de votre carte Vitale."},
    )
    vitale_serial = forms.CharField(
        label="Numéro de série de carte Vitale",
        help_text=(
            "Carte avec photo : 11 chiffres, au dos de la carte ; carte sans photo : 8 à 13 "
            'chiffres, au recto. <a href="/activer/aide-numero-de-serie/">Où trouver mon numéro '
            "de série ?</a>"
        ),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        error_messages={"required": "Saisissez le numéro de série de votre carte Vitale."},
    )

    def clean_nir(self):
        return parse_nir(self.cleaned_data["nir"])

    def clean(self):
        cleaned = super().clean()
        serial, model = cleaned.get("vitale_serial"), cleaned.get("card_model")
        if serial and model:
            try:
                cleaned["vitale_serial"] = parse_vitale_serial(
                    serial, with_photo=model == "avec_photo", nir=cleaned.get("nir", "")
                )
            except ValidationError as exc:
                self.add_error("vitale_serial", exc)
        cleaned["vitale_photo"] = model == "avec_photo"
        return cleaned


class IdentifyForm(CarnetForm, PersonFieldsMixin):
    code = forms.CharField(
        label="Code provisoire",
        help_text="12 caractères, reçus par e-mail ou par courrier. Respectez les majuscules.",
        min_length=12,
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}
        ),
        error_messages={
            "required": "Saisissez votre code provisoire.",
            "min_length": "Le code provisoire comporte 12 caractères.",
            "max_length": "Le code provisoire comporte 12 caractères.",
        },
    )
    field_order = ["code", "nir", "birth_date", "card_model", "vitale_serial"]

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not code.isascii() or not code.isalnum():
            raise ValidationError("Le code provisoire ne contient que des lettres et des chiffres.")
        return code


class NewCodeForm(CarnetForm, PersonFieldsMixin):
    pass


class DecisionForm(CarnetForm):
    decision = forms.ChoiceField(
        label="Votre décision",
        choices=[("activer", "J'active mon espace"), ("opposer", "Je m'oppose à sa création")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choisissez d'activer votre espace ou de vous y opposer."},
    )
    accept_cgu = forms.BooleanField(
        label=(
            "J'accepte les Conditions Générales d'Utilisation et la Politique de protection des "
            "données personnelles"
        ),
        help_text=(
            'Lire les <a href="/cgu/" target="_blank" rel="noopener">Conditions Générales '
            "d'Utilisation (nouvel onglet)</a> et la "
            '<a href="/donnees-personnelles/" target="_blank" rel="noopener">Politique de '
            "protection des données personnelles (nouvel onglet)</a>. Obligatoire pour activer."
        ),
        required=False,
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "activer" and not cleaned.get("accept_cgu"):
            self.add_error(
                "accept_cgu",
                "Pour activer votre espace, acceptez les Conditions Générales d'Utilisation et "
                "la Politique de protection des données personnelles.",
            )
        return cleaned


class ContactsForm(CarnetForm):
    email = forms.EmailField(
        label="Adresse e-mail",
        required=False,
        max_length=254,
        help_text=(
            "Pour recevoir vos codes de connexion et vos notifications. Exemple : nom@exemple.fr"
        ),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={
            "invalid": "Saisissez une adresse e-mail valide, par exemple nom@exemple.fr."
        },
    )
    mobile = forms.CharField(
        label="Numéro de téléphone mobile",
        required=False,
        max_length=25,
        help_text="Exemple : 06 12 34 56 78",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )

    def clean_mobile(self):
        value = self.cleaned_data["mobile"].strip()
        return parse_mobile(value) if value else ""

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("email") and not cleaned.get("mobile"):
            raise ValidationError(
                "Indiquez au moins une adresse e-mail ou un numéro de mobile : ils servent à "
                "recevoir vos codes de connexion."
            )
        return cleaned


class ContactCodeForm(CarnetForm):
    code = forms.CharField(
        label="Code de vérification",
        help_text="6 chiffres, reçus par e-mail ou par SMS.",
        min_length=6,
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        error_messages={
            "required": "Saisissez le code reçu.",
            "min_length": "Le code comporte 6 chiffres.",
            "max_length": "Le code comporte 6 chiffres.",
        },
    )


class CredentialsForm(CarnetForm):
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

    def clean(self):
        cleaned = super().clean()
        check_confirmation(self, cleaned, "password", "password_confirm")
        return cleaned
