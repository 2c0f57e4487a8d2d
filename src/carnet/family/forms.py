"""Forms of linked profiles; messages in French, next to their field."""

from django import forms
from django.core.exceptions import ValidationError

from carnet.core.forms import CarnetForm
from carnet.core.validators import parse_nir
from carnet.enrollment.forms import DATE_FORMATS


class ChildIdentifyForm(CarnetForm):
    code = forms.CharField(
        label="Code provisoire de l'enfant",
        help_text="12 caractères, reçus par e-mail ou par courrier. Respectez les majuscules.",
        min_length=12,
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}
        ),
        error_messages={
            "required": "Saisissez le code provisoire de l'enfant.",
            "min_length": "Le code provisoire comporte 12 caractères.",
            "max_length": "Le code provisoire comporte 12 caractères.",
        },
    )
    nir = forms.CharField(
        label="Numéro de sécurité sociale",
        help_text=(
            "Celui de l'enfant, ou celui de la carte Vitale sur laquelle il figure. "
            "15 caractères ; les espaces sont acceptés."
        ),
        max_length=25,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": "Saisissez le numéro de sécurité sociale."},
    )
    birth_date = forms.DateField(
        label="Date de naissance de l'enfant",
        input_formats=DATE_FORMATS,
        help_text="Par exemple : 14/03/2015",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        error_messages={
            "required": "Saisissez la date de naissance de l'enfant.",
            "invalid": "Saisissez une date valide au format JJ/MM/AAAA, par exemple 14/03/2015.",
        },
    )
    child = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not code.isascii() or not code.isalnum():
            raise ValidationError("Le code provisoire ne contient que des lettres et des chiffres.")
        return code

    def clean_nir(self):
        return parse_nir(self.cleaned_data["nir"])


class ChildDecisionForm(CarnetForm):
    decision = forms.ChoiceField(
        label="Votre décision pour l'enfant",
        choices=[
            ("activer", "J'active son espace santé"),
            ("opposer", "Je m'oppose à la création de son espace santé"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choisissez d'activer son espace ou de vous y opposer."},
    )
    certified = forms.BooleanField(
        label="Je certifie être le représentant légal de cet enfant",
        error_messages={"required": "Cochez la case pour certifier être son représentant légal."},
    )

    def __init__(self, *args, first_name: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if first_name:
            label = f"Je certifie être le représentant légal de {first_name}"
            self.fields["certified"].label = label


class InviteForm(CarnetForm):
    nir = forms.CharField(
        label="Numéro de sécurité sociale de l'autre représentant légal",
        help_text=(
            "15 caractères ; les espaces sont acceptés. Cette personne doit avoir activé son "
            "propre espace santé."
        ),
        max_length=25,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": "Saisissez son numéro de sécurité sociale."},
    )

    def clean_nir(self):
        return parse_nir(self.cleaned_data["nir"])


class LeaveForm(CarnetForm):
    confirmed = forms.BooleanField(
        label="Je confirme que je ne gérerai plus ce profil",
        error_messages={"required": "Cochez la case pour confirmer."},
    )
