"""Agenda forms: appointments (with the directory picker that works without JavaScript),
reminders and the reminder delay. Every rule is checked here, on the server, in French."""

from datetime import datetime, timedelta

from django import forms
from django.forms.utils import ErrorDict
from django.utils import timezone

from carnet.core.forms import CarnetForm

from .models import NOTES_MAX, PLACE_MAX, PROFESSIONAL_NAME_MAX, TITLE_MAX, AgendaSettings
from .selectors import FIRST_YEAR, LAST_YEAR, SEARCH_MAX, SEARCH_MIN, directory_label

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
TIME_FORMATS = ["%H:%M", "%H:%M:%S", "%Hh%M", "%H h %M", "%Hh"]
DURATIONS = [15, 30, 45, 60, 90, 120]
FREE_NAME = ""  # the radio "Saisir un nom librement"


class TextField(forms.CharField):
    """A text area's text: the browser counts a line break as one character against
    `maxlength` but sends two (CR LF); they are made one again before the length is checked."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


class DateField(forms.DateField):
    def validate(self, value):
        super().validate(value)
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise forms.ValidationError(f"Indiquez une date entre {FIRST_YEAR} et {LAST_YEAR}.")


def _date_field(label: str, **kwargs) -> forms.DateField:
    return DateField(
        label=label,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=DATE_FORMATS,
        help_text="Par exemple : 14/03/2027.",
        error_messages={
            "required": "Indiquez la date.",
            "invalid": "Indiquez une date valide, par exemple 14/03/2027.",
        },
        **kwargs,
    )


def _time_field(label: str, *, required: bool, help_text: str) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=required,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=TIME_FORMATS,
        help_text=help_text,
        error_messages={
            "required": "Indiquez l'heure.",
            "invalid": "Indiquez une heure valide, par exemple 10:30.",
        },
    )


def _text(label: str, max_length: int, too_long: str, *, required="", area: bool = False):
    """A text field; `too_long`: « Le titre ne doit pas dépasser », `required`: its error."""
    kind = TextField if area else forms.CharField
    widget = forms.Textarea(attrs={"rows": 4, "data-counter": max_length}) if area else None
    return kind(
        label=label,
        required=bool(required),
        max_length=max_length,
        help_text=f"{max_length} caractères au maximum.",
        widget=widget,
        error_messages={
            "required": required or "Ce champ est obligatoire.",
            "max_length": f"{too_long} {max_length} caractères (vous en avez saisi "
            "%(show_value)d).",
        },
    )


def _minutes(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def local_moment(day, at, field_error):
    """The moment in Europe/Paris; an hour that does not exist (the spring change) or comes
    twice (the autumn one) is refused with `field_error` rather than guessed."""
    naive = datetime.combine(day, at)
    zone = timezone.get_current_timezone()
    moment = timezone.make_aware(naive, zone)
    back = moment.astimezone(zone).replace(tzinfo=None)
    twice = timezone.make_aware(naive.replace(fold=1), zone).utcoffset() != moment.utcoffset()
    if back != naive or twice:
        raise forms.ValidationError(field_error)
    return moment


class AppointmentForm(CarnetForm):
    """*Rendez-vous*. `candidates`: the directory entries offered as radio buttons (the
    results of the search, and the entry already chosen)."""

    title = _text("Titre", TITLE_MAX, "Le titre ne doit pas dépasser")
    search = forms.CharField(
        label="Rechercher un professionnel dans l'annuaire",
        required=False,
        max_length=SEARCH_MAX,
        help_text="Nom, profession ou commune, par exemple « Martin Lyon » ou « kiné ».",
        error_messages={"max_length": f"La recherche : {SEARCH_MAX} caractères au maximum."},
    )
    professional = forms.ChoiceField(
        label="Professionnel de l'annuaire",
        required=False,
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": "Ce professionnel n'est plus proposé : recherchez-le à nouveau."
        },
    )
    professional_name = _text(
        "Nom du professionnel", PROFESSIONAL_NAME_MAX, "Le nom ne doit pas dépasser"
    )
    place = _text("Lieu", PLACE_MAX, "Le lieu ne doit pas dépasser")
    date = _date_field("Date")
    start = _time_field("Heure de début", required=True, help_text="Par exemple : 10:30.")
    duration = forms.TypedChoiceField(
        label="Durée",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Non précisée")] + [(str(m), _minutes(m)) for m in DURATIONS],
        error_messages={"invalid_choice": "Choisissez une durée de la liste."},
    )
    end = _time_field(
        "Heure de fin",
        required=False,
        help_text="Ou une durée ci-dessus ; le même jour, après l'heure de début.",
    )
    notes = _text("Notes", NOTES_MAX, "Les notes ne doivent pas dépasser", area=True)

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.candidates = {str(pro.public_id): pro for pro in candidates}
        self.fields["professional"].choices = [
            (key, directory_label(pro)) for key, pro in self.candidates.items()
        ] + [(FREE_NAME, "Saisir un nom librement (ci-dessous)")]
        self.fields["professional_name"].help_text = (
            f"{PROFESSIONAL_NAME_MAX} caractères au maximum. Pour un professionnel absent de "
            "l'annuaire ; un professionnel choisi dans l'annuaire garde son nom de l'annuaire."
        )
        self.fields[
            "place"
        ].help_text = f"Adresse, cabinet ou établissement. {PLACE_MAX} caractères au maximum."
        self.fields["title"].help_text = (
            f"Par exemple « Contrôle annuel ». {TITLE_MAX} caractères au maximum. Sans titre, "
            "le rendez-vous s'affiche « Rendez-vous »."
        )

    def clean_search(self):
        return " ".join(self.cleaned_data["search"].split())

    def search_refused(self) -> None:
        """On the unbound form of a search: the query is too short, said next to its field."""
        self._errors = ErrorDict()
        self._errors["search"] = self.error_class(
            [f"Saisissez au moins {SEARCH_MIN} caractères pour rechercher."],
            renderer=self.renderer,
        )
        self._describe()

    def clean(self):
        cleaned = super().clean()
        day, start = cleaned.get("date"), cleaned.get("start")
        duration, end = cleaned.get("duration"), cleaned.get("end")
        if duration and end:
            self.add_error("end", "Choisissez une durée ou une heure de fin, pas les deux.")
            return cleaned
        if day is None or start is None:
            return cleaned
        try:
            starts_at = local_moment(
                day,
                start,
                "Cette heure n'existe pas ou existe deux fois ce jour-là (changement "
                "d'heure) : choisissez-en une autre.",
            )
        except forms.ValidationError as exc:
            self.add_error("start", exc)
            return cleaned
        ends_at = None
        if duration:
            ends_at = starts_at + timedelta(minutes=duration)
        elif end is not None:
            if end <= start:
                self.add_error("end", "L'heure de fin doit être après l'heure de début.")
                return cleaned
            try:
                ends_at = local_moment(
                    day,
                    end,
                    "Cette heure de fin n'existe pas ou existe deux fois ce jour-là "
                    "(changement d'heure) : choisissez-en une autre.",
                )
            except forms.ValidationError as exc:
                self.add_error("end", exc)
                return cleaned
        cleaned["starts_at"], cleaned["ends_at"] = starts_at, ends_at
        cleaned["directory_entry"] = self.candidates.get(cleaned.get("professional") or "")
        return cleaned

    @staticmethod
    def initial_for(appointment) -> dict:
        """The form's values for an existing appointment, in Europe/Paris."""
        start = timezone.localtime(appointment.starts_at)
        pro = appointment.professional if appointment.professional_id else None
        initial = {
            "title": appointment.title,
            # A directory entry is shown as its radio button; a name typed freely, as typed.
            "professional": str(pro.public_id) if pro is not None else FREE_NAME,
            "professional_name": "" if pro is not None else appointment.professional_name,
            "place": appointment.place,
            "date": start.date(),
            "start": start.time().replace(second=0, microsecond=0),
            "notes": appointment.notes,
        }
        if appointment.ends_at is not None:
            minutes = (appointment.ends_at - appointment.starts_at) / timedelta(minutes=1)
            if minutes in DURATIONS:
                initial["duration"] = str(int(minutes))
            else:
                initial["end"] = timezone.localtime(appointment.ends_at).time()
        return initial


class ReminderForm(CarnetForm):
    """*Rappel*: a personal note on a date, with an optional time."""

    title = _text(
        "Titre", TITLE_MAX, "Le titre ne doit pas dépasser", required="Indiquez un titre."
    )
    date = _date_field("Date")
    time = _time_field(
        "Heure",
        required=False,
        help_text="Par exemple : 08:00. Sans heure, le rappel vaut pour toute la journée.",
    )
    comment = _text("Commentaire", NOTES_MAX, "Le commentaire ne doit pas dépasser", area=True)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date") is not None and cleaned.get("time") is not None:
            try:
                local_moment(
                    cleaned["date"],
                    cleaned["time"],
                    "Cette heure n'existe pas ou existe deux fois ce jour-là (changement "
                    "d'heure) : choisissez-en une autre.",
                )
            except forms.ValidationError as exc:
                self.add_error("time", exc)
        return cleaned

    @staticmethod
    def initial_for(reminder) -> dict:
        return {
            "title": reminder.title,
            "date": reminder.date,
            "time": reminder.time,
            "comment": reminder.comment,
        }


class AgendaSettingsForm(CarnetForm):
    reminder_delay = forms.ChoiceField(
        label="Me prévenir",
        choices=AgendaSettings.Delay.choices,
        widget=forms.RadioSelect,
        help_text=(
            "Avant chacun de vos rendez-vous et rappels. Le message donne seulement la date et "
            "l'heure, jamais le titre, le professionnel ou le lieu."
        ),
        error_messages={
            "required": "Choisissez quand être prévenu.",
            "invalid_choice": "Choisissez un délai de la liste.",
        },
    )
