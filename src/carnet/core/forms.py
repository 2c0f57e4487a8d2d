"""Base form: links hints and errors to their field (aria-describedby), WCAG 2.1 AA."""

from django import forms


class CarnetForm(forms.Form):
    def _describe(self):
        for name, field in self.fields.items():
            ids = []
            # A throwaway BoundField: `self[name]` would cache one now, freezing the label
            # before a subclass's __init__ can set it (e.g. "Code de vérification").
            auto_id = field.get_bound_field(self, name).auto_id
            if field.help_text:
                ids.append(f"{auto_id}-aide")
            if self._errors and name in self._errors:
                ids.append(f"{auto_id}-erreur")
                field.widget.attrs["aria-invalid"] = "true"
            if ids and not isinstance(field.widget, forms.RadioSelect):
                field.widget.attrs["aria-describedby"] = " ".join(ids)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self._describe()

    def full_clean(self):
        super().full_clean()
        self._describe()

    def add_error(self, field, error):
        # Views add the errors a service found after validation: link those too.
        super().add_error(field, error)
        self._describe()
