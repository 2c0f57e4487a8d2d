"""Forms of login, recovery and settings; messages in French, next to their field."""

from django import forms

from carnet.core.forms import CarnetForm
from carnet.enrollment.forms import PersonFieldsMixin

from .passwords import check_confirmation, confirmation_field, new_password_field


class LoginForm(CarnetForm):
    identifier = forms.CharField(
        label="Mon identifiant",
        max_length=100,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "off", "spellcheck": "false"}
        ),
        error_messages={"required": "Saisissez votre identifiant."},
    )
    password = forms.CharField(
        label="Mon mot de passe",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Saisissez votre mot de passe."},
    )

    def clean_identifier(self):
        return self.cleaned_data["identifier"].strip().lower()


class PasswordOnlyForm(CarnetForm):
    """The password of an account already designated (linking an identity provider)."""

    password = LoginForm.base_fields["password"]


class ChannelForm(CarnetForm):
    channel = forms.ChoiceField(
        label="Mode de réception",
        widget=forms.RadioSelect,
        error_messages={"required": "Choisissez comment recevoir votre code."},
    )

    def __init__(self, *args, channels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c.channel, f"{c.label} ({c.masked})") for c in channels]


class CodeForm(CarnetForm):
    code = forms.CharField(
        label="Code d'accès",
        help_text="6 chiffres.",
        min_length=6,
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        error_messages={
            "required": "Saisissez le code reçu.",
            "min_length": "Le code comporte 6 chiffres.",
            "max_length": "Le code comporte 6 chiffres.",
        },
    )

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not (code.isascii() and code.isdigit()):
            raise forms.ValidationError("Le code ne contient que des chiffres.")
        return code


# --- Recovery -------------------------------------------------------------------------------


class ForgotIdentifierForm(CarnetForm, PersonFieldsMixin):
    pass


RESET_CHANNELS = [("email", "Par e-mail"), ("sms", "Par SMS")]


class ForgotPasswordForm(CarnetForm):
    identifier = forms.CharField(
        label="Mon identifiant",
        max_length=100,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "off", "spellcheck": "false"}
        ),
        error_messages={"required": "Saisissez votre identifiant."},
    )
    # No destination is shown: it would tell who has an account.
    channel = forms.ChoiceField(
        label="Je souhaite recevoir un code",
        choices=RESET_CHANNELS,
        widget=forms.RadioSelect,
        help_text=(
            "Le code est envoyé à l'adresse e-mail ou au numéro de mobile vérifié de votre "
            "compte ; à défaut, par l'autre moyen."
        ),
        error_messages={"required": "Choisissez comment recevoir votre code."},
    )

    def clean_identifier(self):
        return self.cleaned_data["identifier"].strip().lower()


class NewPasswordForm(CarnetForm):
    password = new_password_field("Nouveau mot de passe", "Choisissez un nouveau mot de passe.")
    password_confirm = confirmation_field(
        "Confirmation du nouveau mot de passe", "Saisissez à nouveau votre nouveau mot de passe."
    )

    def clean(self):
        cleaned = super().clean()
        check_confirmation(self, cleaned, "password", "password_confirm")
        return cleaned
