"""The directory of health professionals (RPPS) and the invitations that activate their accounts."""

import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from carnet.core.validators import parse_rpps

# FINESS: 9 characters, the first two the département (2A and 2B for Corsica), then digits.
FINESS = re.compile(r"(?:[0-9]{2}|2[AB])[0-9]{7}")


def validate_finess(value: str) -> None:
    if value and not FINESS.fullmatch(value):
        raise ValidationError(
            "Le numéro FINESS comporte 9 caractères : 9 chiffres, ou 2A/2B suivis de 7 chiffres.",
            code="finess_format",
        )


def validate_rpps(value: str) -> None:
    parse_rpps(value)


class Professional(models.Model):
    class Profession(models.TextChoices):
        # Stable codes (stored, used by the access matrix), French labels (shown).
        MEDECIN = "medecin", "Médecin"
        PHARMACIEN = "pharmacien", "Pharmacien"
        INFIRMIER = "infirmier", "Infirmier"
        SAGE_FEMME = "sage_femme", "Sage-femme"
        CHIRURGIEN_DENTISTE = "chirurgien_dentiste", "Chirurgien-dentiste"
        MASSEUR_KINESITHERAPEUTE = "masseur_kinesitherapeute", "Masseur-kinésithérapeute"
        BIOLOGISTE = "biologiste", "Biologiste"
        RADIOLOGUE = "radiologue", "Radiologue"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rpps = models.CharField("RPPS", max_length=11, unique=True, validators=[validate_rpps])
    last_name = models.CharField("nom", max_length=100)
    first_name = models.CharField("prénom", max_length=100)
    # The code of the profession in the RPPS extract ("10" médecin, "21" pharmacien…), as given.
    profession_code = models.CharField("code profession", max_length=10, blank=True)
    profession = models.CharField("profession", max_length=30, choices=Profession.choices)
    specialty = models.CharField("spécialité", max_length=100, blank=True)
    establishment = models.CharField("établissement", max_length=200, blank=True)
    finess = models.CharField("FINESS", max_length=9, blank=True, validators=[validate_finess])
    postcode = models.CharField("code postal", max_length=5, blank=True)
    city = models.CharField("commune", max_length=100, blank=True)
    messaging_address = models.EmailField("messagerie sécurisée", blank=True)
    email = models.EmailField("e-mail", blank=True)
    # SET_NULL: the directory entry outlives an account that is deleted.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="professional",
    )
    is_demo = models.BooleanField("donnée de démonstration", default=False)
    imported_at = models.DateTimeField("importé le")
    updated_at = models.DateTimeField("mis à jour le")

    class Meta:
        verbose_name = "professionnel de santé"
        verbose_name_plural = "professionnels de santé"
        ordering = ["last_name", "first_name", "id"]

    def __str__(self):
        return f"Professionnel {self.public_id}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Invitation(models.Model):
    """A single-use activation link sent to a professional; only its keyed hash is kept."""

    # CASCADE: an invitation means nothing without its directory entry.
    professional = models.ForeignKey(
        Professional, on_delete=models.CASCADE, related_name="invitations"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The account being set up through this link (inactive until the TOTP code is confirmed).
    pending_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["professional", "created_at"], name="pro_invit_created_idx")
        ]

    def __str__(self):
        return f"Invitation {self.pk}"
