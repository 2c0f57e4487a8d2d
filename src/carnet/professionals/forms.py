"""Forms of the professional's activation (identifier and password, then the first TOTP code)
and of the pro portal."""

from datetime import datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats, timezone

from carnet.accounts.forms import CodeForm
from carnet.accounts.passwords import (
    check_confirmation,
    confirmation_field,
    new_password_field,
    password_validate,
)
from carnet.agenda import models as agenda
from carnet.consent.models import EMERGENCY_REASON_MAX, EMERGENCY_REASON_MIN
from carnet.core import clock
from carnet.core.forms import CarnetForm
from carnet.core.validators import parse_identifier, parse_nir
from carnet.documents.forms import UploadForm

# An appointment a professional adds: the durations offered (minutes), and how far ahead.
DURATIONS = (10, 15, 20, 30, 45, 60, 90, 120)
APPOINTMENT_HORIZON_DAYS = 2 * 365
TIME_FORMATS = ["%H:%M", "%H:%M:%S", "%Hh%M", "%H h %M", "%Hh"]


def _minutes(m: int) -> str:
    hours, rest = divmod(m, 60)
    if not hours:
        return f"{m} minutes"
    return f"{hours} h {rest:02d}" if rest else f"{hours} heure{'s' if hours > 1 else ''}"


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
    confidential = forms.BooleanField(
        label="Invisible aux représentants légaux",
        required=False,
        help_text=(
            "Pour un acte que la loi permet au mineur de garder confidentiel (contraception, "
            "interruption de grossesse…) : ses représentants légaux ne le verront jamais ; le "
            "document reste dans son espace."
        ),
    )

    def __init__(self, *args, minor: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not minor:  # only a minor's acts can be kept from their representatives
            del self.fields["confidential"]


class AppointmentForm(CarnetForm):
    """The portal's « Ajouter un rendez-vous » (and its change): a day, a start time, a duration
    or an end time the same day; the professional is whoever is logged in, never typed."""

    title = forms.CharField(
        label="Objet du rendez-vous",
        required=False,
        max_length=agenda.TITLE_MAX,
        help_text=f"Par exemple : Consultation de suivi. {agenda.TITLE_MAX} caractères au maximum.",
        error_messages={
            "max_length": f"L'objet ne doit pas dépasser {agenda.TITLE_MAX} caractères.",
        },
    )
    date = forms.DateField(
        label="Date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        help_text="Par exemple : 17/03/2027.",
        error_messages={
            "required": "Indiquez la date du rendez-vous.",
            "invalid": "Indiquez une date valide, par exemple 17/03/2027.",
        },
    )
    start_time = forms.TimeField(
        label="Heure de début",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=TIME_FORMATS,
        help_text="Par exemple : 14:30.",
        error_messages={
            "required": "Indiquez l'heure du rendez-vous.",
            "invalid": "Indiquez une heure valide, par exemple 14:30.",
        },
    )
    duration = forms.TypedChoiceField(
        label="Durée",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Non précisée"), *((m, _minutes(m)) for m in DURATIONS)],
        help_text="Ou indiquez l'heure de fin ci-dessous.",
        error_messages={"invalid_choice": "Choisissez une durée de la liste."},
    )
    end_time = forms.TimeField(
        label="Heure de fin",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=TIME_FORMATS,
        help_text="Le même jour, après l'heure de début. Par exemple : 15:00.",
        error_messages={"invalid": "Indiquez une heure valide, par exemple 15:00."},
    )
    place = forms.CharField(
        label="Lieu",
        required=False,
        max_length=agenda.PLACE_MAX,
        help_text=(
            f"Par exemple : l'adresse du cabinet. {agenda.PLACE_MAX} caractères au maximum."
        ),
        error_messages={
            "max_length": f"Le lieu ne doit pas dépasser {agenda.PLACE_MAX} caractères.",
        },
    )
    notes = forms.CharField(
        label="Notes pour le patient",
        required=False,
        max_length=agenda.NOTES_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "Ce qu'il faut apporter ou préparer, par exemple. Le patient les lit dans son "
            f"agenda. {agenda.NOTES_MAX} caractères au maximum."
        ),
        error_messages={
            "max_length": f"Les notes ne doivent pas dépasser {agenda.NOTES_MAX} caractères.",
        },
    )

    @classmethod
    def initial_of(cls, appointment) -> dict:
        """The change form filled with the appointment as it is (in Europe/Paris)."""
        start = timezone.localtime(appointment.starts_at)
        initial = {
            "title": appointment.title,
            "date": start.date(),
            "start_time": start.time().replace(second=0, microsecond=0),
            "place": appointment.place,
            "notes": appointment.notes,
        }
        if appointment.ends_at is not None:
            end = timezone.localtime(appointment.ends_at)
            if end.date() == start.date():
                initial["end_time"] = end.time().replace(second=0, microsecond=0)
        return initial

    def clean(self):
        cleaned = super().clean()
        day, start_time = cleaned.get("date"), cleaned.get("start_time")
        duration, end_time = cleaned.get("duration"), cleaned.get("end_time")
        if day is None or start_time is None:
            return cleaned
        today = clock.today()
        latest = today + timedelta(days=APPOINTMENT_HORIZON_DAYS)
        if day > latest:
            self.add_error(
                "date",
                f"Choisissez une date au plus tard le {formats.date_format(latest, 'j F Y')}.",
            )
            return cleaned
        starts_at = timezone.make_aware(datetime.combine(day, start_time))
        if starts_at <= clock.now():
            self.add_error(
                "date" if day < today else "start_time",
                "Le rendez-vous doit être à venir : choisissez une date et une heure futures.",
            )
            return cleaned
        ends_at = None
        if duration is not None and end_time is not None:
            self.add_error("end_time", "Indiquez une durée ou une heure de fin, pas les deux.")
            return cleaned
        if duration is not None:
            ends_at = starts_at + timedelta(minutes=duration)
        elif end_time is not None:
            if end_time <= start_time:
                self.add_error("end_time", "L'heure de fin doit être après l'heure de début.")
                return cleaned
            ends_at = timezone.make_aware(datetime.combine(day, end_time))
        cleaned["starts_at"], cleaned["ends_at"] = starts_at, ends_at
        return cleaned


# --- The portal's « Messagerie » -----------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe): a list of uploads."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def _message_limits() -> tuple[int, int]:
    from django.conf import settings

    return settings.CARNET["MESSAGE_MAX_FILES"], settings.CARNET["MESSAGE_MAX_BYTES"]


class ProMessageReplyForm(CarnetForm):
    """A professional's message in a conversation: the text, attachments, « sans réponse »."""

    body = forms.CharField(
        label="Message",
        widget=forms.Textarea(attrs={"rows": 8}),
        error_messages={"required": "Écrivez votre message."},
    )
    attachments = MultipleFileField(
        label="Pièces jointes",
        required=False,
        error_messages={
            "empty": "Un des fichiers est vide.",
            "invalid": "Un fichier n'a pas pu être reçu : recommencez.",
        },
    )
    no_reply = forms.BooleanField(
        label="Le patient ne pourra pas répondre",
        required=False,
        help_text="Pour une information qui n'appelle pas de réponse.",
    )

    def __init__(self, *args, **kwargs):
        from carnet.documents.files import ACCEPT_ATTRIBUTE, ACCEPTED_EXTENSIONS, megabytes
        from carnet.messaging.services import BODY_MAX

        super().__init__(*args, **kwargs)
        most, total = _message_limits()
        self.fields["body"].widget.attrs["maxlength"] = str(BODY_MAX)
        field = self.fields["attachments"]
        field.help_text = (
            f"Au plus {most} fichiers, {megabytes(total)} en tout. Formats acceptés : "
            f"{', '.join(ACCEPTED_EXTENSIONS)}."
        )
        field.widget.attrs["accept"] = ACCEPT_ATTRIBUTE
        self._describe()

    def clean_body(self):
        from carnet.messaging.services import BODY_MAX

        body = self.cleaned_data["body"].replace("\r\n", "\n").strip()
        if not body:
            raise ValidationError("Écrivez votre message.")
        if len(body) > BODY_MAX:
            raise ValidationError(f"Le message ne doit pas dépasser {BODY_MAX} caractères.")
        return body

    def clean_attachments(self):
        """Each file checked as a document (type sniffed, size), in a bounded child process;
        the count and the total size of the message. Any refusal refuses the message."""
        from carnet.documents.files import FileRefused, file_check_isolated, megabytes
        from carnet.messaging.services import OutgoingFile

        uploads = self.cleaned_data.get("attachments") or []
        most, total = _message_limits()
        if len(uploads) > most:
            raise ValidationError(f"Un message compte au plus {most} pièces jointes.")
        if sum(u.size for u in uploads) > total:
            raise ValidationError(
                f"Les pièces jointes d'un message ne doivent pas dépasser {megabytes(total)} "
                "en tout."
            )
        files = []
        for upload in uploads:
            upload.seek(0)
            try:
                checked = file_check_isolated(upload.name, upload.read())
            except FileRefused as exc:
                raise ValidationError(f"« {upload.name} » : {exc}") from exc
            files.append(
                OutgoingFile(
                    filename=upload.name,
                    data=checked.data,
                    media_type=checked.media_type,
                    extension=checked.extension,
                )
            )
        return files


class ProMessageForm(ProMessageReplyForm):
    """« Écrire au patient »: a new conversation."""

    subject = forms.CharField(
        label="Objet",
        help_text=(
            "Visible dans la liste des messages du patient : n'y mettez aucune information "
            "médicale."
        ),
        error_messages={"required": "Indiquez l'objet du message."},
    )
    field_order = ["subject", "body", "attachments", "no_reply"]

    def __init__(self, *args, **kwargs):
        from carnet.messaging.models import SUBJECT_MAX

        super().__init__(*args, **kwargs)
        self.fields["subject"].widget.attrs["maxlength"] = str(SUBJECT_MAX)

    def clean_subject(self):
        from carnet.messaging.models import SUBJECT_MAX

        subject = " ".join(self.cleaned_data["subject"].split())
        if not subject:
            raise ValidationError("Indiquez l'objet du message.")
        if len(subject) > SUBJECT_MAX:
            raise ValidationError(f"L'objet ne doit pas dépasser {SUBJECT_MAX} caractères.")
        return subject
