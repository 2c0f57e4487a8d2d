"""Document forms: every rule is checked here, on the server, whatever the browser said."""

import unicodedata

from django import forms
from django.conf import settings
from django.utils import timezone

from carnet.core import clock
from carnet.core.forms import CarnetForm

from .files import (
    ACCEPT_ATTRIBUTE,
    ACCEPTED_EXTENSIONS,
    FileRefused,
    file_check_isolated,
    megabytes,
)
from .models import Category

TITLE_MAX = settings.CARNET["DOCUMENT_TITLE_MAX_LENGTH"]
NAME_FORBIDDEN = set("<>")
# Invisible characters a paste can bring (zero-width spaces, bidi overrides that would turn a
# download name around): removed, not refused, since the person cannot see them.
INVISIBLE = {"Cc", "Cf", "Cs"}


def _date_widget():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DocumentFieldsForm(CarnetForm):
    """Titre, catégorie, date: shared by the upload and the edit forms."""

    title = forms.CharField(
        label="Titre",
        max_length=TITLE_MAX,
        required=False,  # the upload form fills it from the file name
        help_text=f"{TITLE_MAX} caractères au plus.",
        error_messages={"max_length": f"Le titre ne doit pas dépasser {TITLE_MAX} caractères."},
    )
    category = forms.ChoiceField(
        label="Catégorie",
        choices=[("", "Choisir une catégorie")] + Category.choices,
        error_messages={
            "required": "Choisissez une catégorie.",
            "invalid_choice": "Choisissez une catégorie de la liste.",
        },
    )
    document_date = forms.DateField(
        label="Date du document",
        widget=_date_widget(),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        help_text="Par exemple : 14/03/2026.",
        error_messages={
            "required": "Indiquez la date du document.",
            "invalid": "Indiquez une date valide, par exemple 14/03/2026.",
        },
    )

    def clean_title(self):
        title = " ".join(self.cleaned_data.get("title", "").split())  # tabs, newlines → spaces
        title = "".join(c for c in title if unicodedata.category(c) not in INVISIBLE)
        title = " ".join(title.split())
        if any(c in NAME_FORBIDDEN for c in title):
            raise forms.ValidationError("Le titre ne doit pas contenir les caractères < ou >.")
        if not title and self.fields["title"].required:
            raise forms.ValidationError(self.fields["title"].error_messages["required"])
        return title

    def clean_document_date(self):
        value = self.cleaned_data["document_date"]
        if value > timezone.localdate(clock.now()):
            raise forms.ValidationError("La date du document ne peut pas être dans le futur.")
        if value.year < 1900:
            raise forms.ValidationError("Indiquez une date après 1900.")
        return value


class UploadForm(DocumentFieldsForm):
    file = forms.FileField(
        label="Choisir un fichier",
        help_text=(
            f"Formats acceptés : {', '.join(ACCEPTED_EXTENSIONS)}. "
            f"Taille maximale : {megabytes(settings.CARNET['DOCUMENT_MAX_BYTES'])}. "
            "Un seul fichier peut être déposé à la fois."
        ),
        widget=forms.FileInput(attrs={"accept": ACCEPT_ATTRIBUTE}),
        error_messages={
            "required": "Choisissez un fichier à ajouter.",
            "empty": "Le fichier est vide.",
            "invalid": "Le fichier n'a pas pu être reçu : recommencez.",
        },
    )
    field_order = ["file", "title", "category", "document_date"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[
            "title"
        ].help_text = (
            f"{TITLE_MAX} caractères au plus. Laissé vide, le titre sera le nom du fichier."
        )
        if not self.is_bound:
            self.initial.setdefault("document_date", timezone.localdate(clock.now()))

    def clean_file(self):
        getlist = getattr(self.files, "getlist", None)
        uploads = getlist(self.add_prefix("file")) if getlist else []
        if len(uploads) > 1:
            raise forms.ValidationError("Un seul fichier peut être déposé à la fois.")
        upload = self.cleaned_data["file"]
        upload.seek(0)
        try:  # in a bounded child process: the file comes from anyone (files.py)
            return file_check_isolated(upload.name, upload.read())
        except FileRefused as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self):
        cleaned = super().clean()
        checked = cleaned.get("file")
        if checked is not None and not cleaned.get("title") and "title" not in self.errors:
            cleaned["title"] = checked.suggested_title
        return cleaned


class EditForm(DocumentFieldsForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].required = True
        self.fields["title"].error_messages["required"] = "Indiquez un titre."


class DocumentSettingsForm(CarnetForm):
    hide_new_documents = forms.BooleanField(
        label="Masquer par défaut aux professionnels de santé les documents que j'ajoute",
        required=False,
        help_text=(
            "Un document masqué reste visible pour vous, pour le professionnel qui l'a ajouté "
            "et pour votre médecin traitant."
        ),
    )
