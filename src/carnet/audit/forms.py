"""The filters of « Historique d'activité »: a period (Du / Au) and a kind of action."""

from django import forms

from carnet.core import clock
from carnet.core.forms import CarnetForm

from .selectors import KINDS

_DATE_ERRORS = {"invalid": "Indiquez une date valide, par exemple 14/03/2026."}


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        error_messages=_DATE_ERRORS,
    )


class HistoryFilterForm(CarnetForm):
    du = _date_field("Du")
    au = _date_field("Au")
    type = forms.ChoiceField(
        label="Type d'action",
        required=False,
        choices=[("", "Toutes les actions")] + [(k, label) for k, (label, _) in KINDS.items()],
        error_messages={"invalid_choice": "Choisissez un type d'action de la liste."},
    )

    def _not_future(self, name: str, message: str):
        value = self.cleaned_data.get(name)
        if value is not None and value > clock.today():
            raise forms.ValidationError(message)
        return value

    def clean_du(self):
        return self._not_future("du", "La date de début ne peut pas être dans le futur.")

    def clean_au(self):
        return self._not_future("au", "La date de fin ne peut pas être dans le futur.")

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("du"), cleaned.get("au")
        if since is not None and until is not None and since > until:
            self.add_error("au", "La date de fin doit être le même jour ou après la date de début.")
        return cleaned
