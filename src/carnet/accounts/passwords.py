"""The one password policy for every account kind (OWASP ASVS: length, no forced classes)."""

import re
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.password_validation import UserAttributeSimilarityValidator
from django.core.exceptions import ValidationError

RULES = [
    "de 12 à 128 caractères ; une phrase de passe est idéale",
    "pas uniquement des chiffres",
    "pas un mot de passe courant",
    "sans votre identifiant, vos nom et prénom ni votre numéro de sécurité sociale",
]


class LengthValidator:
    def validate(self, password, user=None):
        low, high = settings.CARNET["PASSWORD_MIN_LENGTH"], settings.CARNET["PASSWORD_MAX_LENGTH"]
        if not low <= len(password) <= high:
            raise ValidationError(
                "Le mot de passe doit comporter de %(min)s à %(max)s caractères.",
                code="password_length",
                params={"min": low, "max": high},
            )

    def get_help_text(self):
        return RULES[0]


class NotPersonalValidator:
    """Refuse a password close to the identifier, the names or the NIR.

    The caller passes an object with `identifier`, `first_name`, `last_name` and `nir`
    (the account may not exist yet during activation).
    """

    def validate(self, password, user=None):
        if user is None:
            return
        lowered = password.lower()
        nir = getattr(user, "nir", "") or ""
        if nir and (nir[:13] in re.sub(r"\D", "", password) or nir.lower() in lowered):
            raise ValidationError(
                "Le mot de passe ne doit pas contenir votre numéro de sécurité sociale.",
                code="password_nir",
            )
        for attribute in ("identifier", "first_name", "last_name"):
            value = (getattr(user, attribute, "") or "").lower()
            if len(value) >= 3 and value in lowered:
                raise ValidationError(
                    "Le mot de passe ne doit pas contenir votre identifiant ni vos nom et prénom.",
                    code="password_personal",
                )
        UserAttributeSimilarityValidator(
            user_attributes=("identifier", "first_name", "last_name"), max_similarity=0.7
        ).validate(password, user)

    def get_help_text(self):
        return RULES[3]


def password_validate(password: str, *, identifier: str, person=None) -> None:
    """Apply the policy (AUTH_PASSWORD_VALIDATORS) for this identifier and insured person.

    The personal checks read a subject object, not a User: at activation the account does not
    exist yet. Raises ValidationError with the French messages.
    """
    subject = SimpleNamespace(
        identifier=identifier,
        first_name=getattr(person, "first_name", "") or "",
        last_name=getattr(person, "last_name", "") or "",
        nir=getattr(person, "nir", "") or "",
    )
    password_validation.validate_password(password, subject)


def new_password_field(label: str, required_message: str):
    """The field where a person chooses a password, with the rules shown before typing."""
    from django import forms

    return forms.CharField(
        label=label,
        help_text="Règles : " + " ; ".join(RULES) + ".",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": required_message},
    )


def confirmation_field(label: str, required_message: str):
    from django import forms

    return forms.CharField(
        label=label,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": required_message},
    )


def check_confirmation(form, cleaned: dict, field: str, confirm: str) -> None:
    """Attach "not identical" to the confirmation field when the two differ."""
    if (
        cleaned.get(field)
        and cleaned.get(confirm) is not None
        and cleaned[field] != cleaned[confirm]
    ):
        form.add_error(confirm, "Les deux mots de passe ne sont pas identiques.")
