from django import forms

from carnet.core.forms import CarnetForm


class LoginForm(CarnetForm):
    identifier = forms.CharField(
        label="Mon identifiant",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "off"}),
        error_messages={"required": "Saisissez votre identifiant."},
    )
    password = forms.CharField(
        label="Mon mot de passe",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Saisissez votre mot de passe."},
    )
