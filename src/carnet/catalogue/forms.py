"""Forms of the operators' catalogue pages (/operateur/catalogue/)."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from carnet.core.forms import CarnetForm

from .models import App

PATIENT_CATEGORIES = [c for c in App.Category.choices if c[0] != App.Category.PRO_SOFTWARE]


def _words(text: str) -> list[str]:
    return text.replace(",", " ").split()


class EntryForm(CarnetForm):
    """What an operator may change on an entry (and give when referencing one)."""

    name = forms.CharField(label="Nom du service", max_length=255)
    editor = forms.CharField(label="Éditeur", max_length=100)
    description = forms.CharField(
        label="Description",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Ce que le service apporte, en quelques phrases (2000 caractères au plus).",
    )
    category = forms.ChoiceField(label="Catégorie", choices=PATIENT_CATEGORIES)
    website = forms.URLField(
        label="Site internet", max_length=200, required=False, assume_scheme="https"
    )
    allowed_scopes = forms.CharField(
        label="Données autorisées (scopes SMART)",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="Séparées par des espaces ou des retours à la ligne, par exemple "
        "« launch/patient patient/Observation.rs ».",
    )
    redirect_uris = forms.CharField(
        label="Adresses de retour",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="Une par ligne. Au moins une pour une application (pas pour un logiciel).",
    )

    def __init__(self, *args, software: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if software:
            self.fields["category"].choices = [
                (App.Category.PRO_SOFTWARE, App.Category.PRO_SOFTWARE.label)
            ]

    def clean_allowed_scopes(self) -> list[str]:
        scopes = _words(self.cleaned_data["allowed_scopes"])
        if not scopes:
            raise ValidationError("Indiquez au moins une donnée autorisée.")
        return scopes

    def clean_redirect_uris(self) -> list[str]:
        return self.cleaned_data["redirect_uris"].split()

    def add_service_error(self, exc: ValidationError) -> None:
        """Show a service's refusal next to its field (or above the form)."""
        if hasattr(exc, "error_dict"):
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        else:
            self.add_error(None, exc.messages)

    @classmethod
    def initial_of(cls, app: App) -> dict:
        return {
            "name": app.name,
            "editor": app.editor,
            "description": app.description,
            "category": app.category,
            "website": app.website,
            "allowed_scopes": "\n".join(app.allowed_scopes.split()),
            "redirect_uris": "\n".join(app.redirect_uris.split()),
        }


class CreateForm(EntryForm):
    finess = forms.RegexField(
        label="FINESS de l'établissement",
        regex=r"^[0-9]{9}$",
        required=False,
        help_text="Seulement pour le logiciel d'un établissement de santé (9 chiffres) : il "
        "se connecte sans usager (client credentials) et sa catégorie est « Logiciel de "
        "professionnel de santé ».",
        error_messages={"invalid": "Le FINESS compte 9 chiffres."},
    )
    confidential = forms.BooleanField(
        label="Client confidentiel (avec un secret)",
        required=False,
        help_text="Le secret est montré une seule fois, juste après le référencement.",
    )
    status = forms.ChoiceField(
        label="Statut", choices=App.Status.choices, initial=App.Status.OFFLINE
    )

    def clean(self):
        data = super().clean()
        if not data.get("finess") and data.get("redirect_uris") == []:
            self.add_error("redirect_uris", "Une application a au moins une adresse de retour.")
        return data


class StatusForm(CarnetForm):
    status = forms.ChoiceField(label="Nouveau statut", choices=App.Status.choices)


class LogoForm(CarnetForm):
    logo = forms.FileField(
        label="Logo",
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        max_kb = settings.CARNET["CATALOGUE_LOGO_MAX_BYTES"] // 1024
        side = settings.CARNET["CATALOGUE_LOGO_SIDE"]
        self.fields["logo"].help_text = (
            f"Une image PNG ou JPEG de {max_kb} Ko au plus ; elle est conservée en PNG de "
            f"{side} × {side} pixels au plus."
        )
        self._describe()
