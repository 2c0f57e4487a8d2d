"""Forms of the account settings (/parametres/); messages in French, next to their field."""

from django import forms
from django.conf import settings

from carnet.core.forms import CarnetForm
from carnet.core.validators import parse_mobile

from .forms import CodeForm
from .passwords import check_confirmation, confirmation_field, new_password_field


class EmailChangeForm(CarnetForm):
    email = forms.EmailField(
        label="Nouvelle adresse e-mail",
        max_length=254,
        help_text="Un code à 6 chiffres sera envoyé à cette adresse pour la confirmer. "
        "Exemple : nom@exemple.fr",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={
            "required": "Saisissez votre nouvelle adresse e-mail.",
            "invalid": "Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.",
        },
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip()


class MobileChangeForm(CarnetForm):
    mobile = forms.CharField(
        label="Nouveau numéro de mobile",
        max_length=25,
        help_text="Un code à 6 chiffres sera envoyé par SMS à ce numéro pour le confirmer. "
        "Exemple : 06 12 34 56 78",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
        error_messages={"required": "Saisissez votre nouveau numéro de mobile."},
    )

    def clean_mobile(self):
        return parse_mobile(self.cleaned_data["mobile"].strip())


class VerificationCodeForm(CodeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].label = "Code de vérification"


class PasswordChangeForm(CarnetForm):
    current_password = forms.CharField(
        label="Mot de passe actuel",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Saisissez votre mot de passe actuel."},
    )
    new_password = new_password_field("Nouveau mot de passe", "Choisissez un nouveau mot de passe.")
    new_password_confirm = confirmation_field(
        "Confirmation du nouveau mot de passe", "Saisissez à nouveau votre nouveau mot de passe."
    )

    def clean(self):
        cleaned = super().clean()
        check_confirmation(self, cleaned, "new_password", "new_password_confirm")
        return cleaned


class IdentifierChangeForm(CarnetForm):
    identifier = forms.CharField(
        label="Nouvel identifiant",
        help_text=(
            "De 8 à 100 caractères : lettres minuscules sans accent, chiffres, et . - _ "
            "(une adresse e-mail n'est pas acceptée)."
        ),
        max_length=100,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "off", "spellcheck": "false"}
        ),
        error_messages={"required": "Choisissez un nouvel identifiant."},
    )


# (event, French title): each event has an e-mail and an SMS box, grouped under its title.
PREFERENCE_GROUPS = [
    ("new_document", "Nouveau document dans mon espace"),
    ("new_message", "Nouveau message d'un professionnel de santé"),
    ("appointment", "Rappel de rendez-vous"),
    ("prevention", "Rappel de prévention (vaccins, dépistages)"),
]


class PreferencesForm(CarnetForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for event, _ in PREFERENCE_GROUPS:
            self.fields[f"{event}_email"] = forms.BooleanField(label="Par e-mail", required=False)
            self.fields[f"{event}_sms"] = forms.BooleanField(label="Par SMS", required=False)
        self._describe()

    def groups(self):
        return [
            (event, title, [self[f"{event}_email"], self[f"{event}_sms"]])
            for event, title in PREFERENCE_GROUPS
        ]


class ReauthForm(CarnetForm):
    password = forms.CharField(
        label="Mon mot de passe",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Saisissez votre mot de passe."},
    )
    channel = forms.ChoiceField(
        label="Je reçois un code de confirmation",
        widget=forms.RadioSelect,
        error_messages={"required": "Choisissez comment recevoir votre code."},
    )

    def __init__(self, *args, channels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c.channel, f"{c.label} ({c.masked})") for c in channels]


class ConfirmForm(CarnetForm):
    confirm = forms.BooleanField(
        label="Je confirme",
        error_messages={"required": "Cochez la case pour confirmer."},
    )

    def __init__(self, *args, label="Je confirme", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["confirm"].label = label


class PasskeyForm(CarnetForm):
    """The name the person gives the passkey, and the authenticator's answer (set by
    passkeys.js from navigator.credentials.create())."""

    name = forms.CharField(
        label="Nom de la clé d'accès",
        max_length=60,
        help_text="Pour la reconnaître dans la liste. Exemple : Mon téléphone",
        error_messages={
            "required": "Donnez un nom à la clé d'accès, par exemple « Mon téléphone ».",
            "max_length": "Le nom ne doit pas dépasser 60 caractères.",
        },
    )
    # Not "required": a missing answer is the form's error, not a hidden field's.
    credential = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self):
        cleaned = super().clean()
        credential = cleaned.get("credential", "")
        if not credential or len(credential) > settings.CARNET["PASSKEY_CREDENTIAL_MAX_CHARS"]:
            raise forms.ValidationError(
                "La clé d'accès n'a pas été créée : votre navigateur doit la proposer "
                "(JavaScript activé) ; suivez ses instructions, puis recommencez."
            )
        return cleaned

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Donnez un nom à la clé d'accès.")
        return name
