"""Messaging forms: a reply (or a new conversation) with its attachments, and "Enregistrer dans
mes documents". Every rule is checked here, on the server, whatever the browser said."""

from django import forms
from django.conf import settings

from carnet.core.forms import CarnetForm
from carnet.documents.files import (
    ACCEPT_ATTRIBUTE,
    ACCEPTED_EXTENSIONS,
    FileRefused,
    file_check_isolated,
    megabytes,
    safe_file_name,
)
from carnet.documents.forms import DocumentFieldsForm

from .models import SUBJECT_MAX
from .services import BODY_MAX, OutgoingFile


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT_ATTRIBUTE}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def _files_help() -> str:
    limits = settings.CARNET
    return (
        f"Formats acceptés : {', '.join(ACCEPTED_EXTENSIONS)}. "
        f"{megabytes(settings.CARNET['DOCUMENT_MAX_BYTES'])} par fichier au plus ; "
        f"{limits['MESSAGE_MAX_FILES']} pièces jointes et "
        f"{limits['MESSAGE_MAX_BYTES'] // (1024 * 1024)} Mo par message au plus."
    )


class MessageForm(CarnetForm):
    body = forms.CharField(
        label="Votre message",
        max_length=BODY_MAX,
        required=False,  # a draft may be empty; sending needs a text (checked in `clean`)
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"max_length": f"Le message ne doit pas dépasser {BODY_MAX} caractères."},
    )
    fichiers = MultipleFileField(
        label="Joindre des fichiers depuis mon appareil",
        required=False,
        error_messages={
            "empty": "Un des fichiers est vide.",
            "invalid": "Un fichier n'a pas pu être reçu : recommencez.",
        },
    )
    documents = forms.MultipleChoiceField(
        label="Joindre depuis Mes documents",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choisissez des documents de la liste."},
    )

    def __init__(self, *args, document_choices=(), sending=True, **kwargs):
        self.sending = sending
        super().__init__(*args, **kwargs)
        self.fields["fichiers"].help_text = _files_help()
        self.fields["documents"].choices = list(document_choices)

    def clean_fichiers(self):
        uploads = self.cleaned_data.get("fichiers") or []
        if not self.sending:
            return []
        limits = settings.CARNET
        if len(uploads) > limits["MESSAGE_MAX_FILES"]:
            raise forms.ValidationError(
                f"Un message compte au plus {limits['MESSAGE_MAX_FILES']} pièces jointes."
            )
        if sum(u.size for u in uploads) > limits["MESSAGE_MAX_BYTES"]:
            raise forms.ValidationError(
                "Les pièces jointes d'un message ne doivent pas dépasser "
                f"{limits['MESSAGE_MAX_BYTES'] // (1024 * 1024)} Mo en tout."
            )
        checked, errors = [], []
        for upload in uploads:
            name = safe_file_name(upload.name)
            upload.seek(0)
            try:  # in a bounded child process, like a document (documents/files.py)
                result = file_check_isolated(name, upload.read())
            except FileRefused as exc:
                errors.append(f"« {name} » : {exc}")
                continue
            checked.append(
                OutgoingFile(
                    filename=name,
                    data=result.data,
                    media_type=result.media_type,
                    extension=result.extension,
                )
            )
        if errors:
            raise forms.ValidationError(errors)
        return checked

    def clean(self):
        cleaned = super().clean()
        if not self.sending:
            return cleaned
        if "body" not in self.errors and not (cleaned.get("body") or "").strip():
            self.add_error("body", "Écrivez votre message.")
        count = len(cleaned.get("fichiers") or []) + len(cleaned.get("documents") or [])
        most = settings.CARNET["MESSAGE_MAX_FILES"]
        if count > most and "fichiers" not in self.errors:
            self.add_error("fichiers", f"Un message compte au plus {most} pièces jointes.")
        return cleaned


class NewConversationForm(MessageForm):
    professional = forms.ChoiceField(
        label="Destinataire",
        help_text="Vous pouvez écrire à un professionnel de santé qui vous a déjà écrit.",
        error_messages={
            "required": "Choisissez le destinataire.",
            "invalid_choice": "Choisissez un professionnel de santé de la liste.",
        },
    )
    subject = forms.CharField(
        label="Objet",
        max_length=SUBJECT_MAX,
        help_text="N'indiquez pas d'information de santé dans l'objet.",
        error_messages={
            "required": "Indiquez l'objet du message.",
            "max_length": f"L'objet ne doit pas dépasser {SUBJECT_MAX} caractères.",
        },
    )
    field_order = ["professional", "subject", "body", "fichiers", "documents"]

    def __init__(self, *args, professional_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["professional"].choices = [("", "Choisir un professionnel")] + list(
            professional_choices
        )


class SaveToDocumentsForm(DocumentFieldsForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].required = True
        self.fields["title"].error_messages["required"] = "Indiquez un titre."
