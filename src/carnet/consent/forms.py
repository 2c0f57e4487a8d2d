"""The patient's emergency switches, as a form of three boxes."""

from django import forms
from django.conf import settings

from carnet.core.forms import CarnetForm

from .models import EmergencySettings

FIELDS = ("samu_allowed", "emergency_allowed", "hidden_visible")


def _label(name: str) -> str:
    return EmergencySettings._meta.get_field(name).verbose_name


def _hours(delta) -> int:
    return int(delta.total_seconds() // 3600)


class EmergencySettingsForm(CarnetForm):
    # required=False: an unticked box sends nothing, and means "no".
    samu_allowed = forms.BooleanField(label=_label("samu_allowed"), required=False)
    emergency_allowed = forms.BooleanField(label=_label("emergency_allowed"), required=False)
    hidden_visible = forms.BooleanField(label=_label("hidden_visible"), required=False)

    def __init__(self, *args, **kwargs):
        hours = _hours(settings.CARNET["EMERGENCY_ACCESS_DURATION"])
        self.base_fields["samu_allowed"].help_text = (
            "Quand vous ou un proche appelez le 15, le médecin régulateur du SAMU peut consulter "
            "votre profil pour mieux évaluer la situation et décider des secours à envoyer."
        )
        self.base_fields["emergency_allowed"].help_text = (
            "Si votre état présente un risque immédiat pour votre santé, un professionnel de "
            "santé qui n'a pas votre autorisation peut accéder à votre profil en indiquant le "
            f"motif (« bris de glace »), pour {hours} heures. Chaque accès est inscrit dans "
            "votre historique et vous êtes prévenu(e) par e-mail, ainsi que votre médecin "
            "traitant."
        )
        self.base_fields["hidden_visible"].help_text = (
            "Si vous cochez cette case, les documents que vous avez masqués sont visibles par "
            "les professionnels qui accèdent à votre profil en urgence. Sinon, ils restent "
            "masqués même en urgence."
        )
        super().__init__(*args, **kwargs)
