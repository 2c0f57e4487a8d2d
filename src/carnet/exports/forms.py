"""The request of an export: which profiles (the account's own and those it manages)."""

from django import forms

from carnet.core.forms import CarnetForm


class ExportRequestForm(CarnetForm):
    profiles = forms.MultipleChoiceField(
        label="Profils à inclure",
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choisissez au moins un profil à exporter.",
            "invalid_choice": "Choisissez des profils de la liste.",
        },
    )

    def __init__(self, *args, spaces, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.spaces = {str(space.public_id): space for space in spaces}
        self.fields["profiles"].choices = [
            (key, _label(space, user)) for key, space in self.spaces.items()
        ]
        self.fields["profiles"].initial = list(self.spaces)

    def chosen_spaces(self) -> list:
        return [self.spaces[key] for key in self.cleaned_data["profiles"]]


def _label(space, user) -> str:
    person = space.person
    name = f"{person.first_name} {person.last_name}"
    return f"{name} (vous)" if space.person_id == user.person_id else name
