"""Forms of the prevention calendar: following an item, and the reminders per kind. The date
rules (not in the future, not before birth, within five years) are the service's, shown next
to their field by the view."""

from django import forms

from carnet.core.forms import CarnetForm

from . import prevention

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


def _date_field(label: str, help_text: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=help_text,
        error_messages={"invalid": "Indiquez une date valide, par exemple 14/03/2026."},
    )


class PreventionStatusForm(CarnetForm):
    status = forms.ChoiceField(
        label="Où en êtes-vous ?",
        widget=forms.RadioSelect,
        choices=[
            (prevention.PLANIFIE, "Planifié : j'ai pris rendez-vous ou je vais le faire"),
            (prevention.REALISE, "Réalisé"),
            (prevention.NON_REALISE, "Non réalisé : je ne le ferai pas"),
            (prevention.A_PLANIFIER, "À planifier (effacer mon suivi)"),
        ],
        error_messages={
            "required": "Choisissez où vous en êtes.",
            "invalid_choice": "Choisissez où vous en êtes.",
        },
    )
    planned_on = _date_field("Date prévue", "Si « Planifié ». Par exemple : 14/03/2027.")
    done_on = _date_field("Date de réalisation", "Si « Réalisé ». Par exemple : 14/03/2026.")
    add_to_profile = forms.BooleanField(
        label="Ajouter aussi à mes vaccinations",
        required=False,
        help_text="La vaccination sera inscrite dans votre profil médical, à cette date.",
    )

    def __init__(self, *args, vaccination: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not vaccination:
            del self.fields["add_to_profile"]

    def clean(self):
        cleaned = super().clean()
        status = cleaned.get("status")
        if status == prevention.REALISE and cleaned.get("done_on") is None:
            if "done_on" not in self.errors:
                self.add_error("done_on", "Indiquez la date de réalisation.")
        if cleaned.get("add_to_profile") and status != prevention.REALISE:
            self.add_error(
                "add_to_profile", "Cochez cette case seulement si la vaccination est réalisée."
            )
        return cleaned


class PreventionRemindersForm(CarnetForm):
    kinds = forms.MultipleChoiceField(
        label="Je ne souhaite plus recevoir ces rappels",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choisissez des rappels de la liste."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kinds"].choices = list(prevention.RULES.kinds.items())
