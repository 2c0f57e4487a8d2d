"""Validators for the identifiers of French health insurance: NIR, Vitale serial, mobile, login.

Each `parse_*` function returns the normalised value or raises `ValidationError` with a
French message. They are pure and fast: the registry import calls them a million times.
"""

import re
from datetime import date

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError

_NIR_SHAPE = re.compile(r"^[12]\d{2}(?:0[1-9]|1[0-2]|[2-9]\d)(?:\d{2}|2[AB])\d{6}\d{2}$")
_SEPARATORS = re.compile(r"[\s.\-]")


def nir_key(first13: str) -> int:
    """Key of a NIR: 97 − (the first 13 digits mod 97), Corsica 2A read as 19 and 2B as 18."""
    digits = first13.replace("2A", "19").replace("2B", "18")
    return 97 - int(digits) % 97


def parse_nir(value: str) -> str:
    """Normalise a NIR ("1 55 12 55 555 555 55" → "155125555555555") and check its key."""
    nir = _SEPARATORS.sub("", value or "").upper()
    if len(nir) != 15:
        raise ValidationError(
            "Le numéro de sécurité sociale doit comporter 15 caractères.", code="nir_length"
        )
    if not _NIR_SHAPE.match(nir):
        raise ValidationError(
            "Le numéro de sécurité sociale n'a pas un format valide.", code="nir_format"
        )
    if int(nir[13:]) != nir_key(nir[:13]):
        raise ValidationError(
            "La clé du numéro de sécurité sociale ne correspond pas.", code="nir_key"
        )
    return nir


def _is_date_ddmmyyyy(digits: str) -> bool:
    try:
        date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    except ValueError:
        return False
    return True


def parse_vitale_serial(value: str, *, with_photo: bool, nir: str = "") -> str:
    """Vitale card serial: 11 digits with photo, 8 to 13 without; never a date, never in the NIR."""
    serial = _SEPARATORS.sub("", value or "")
    if not serial.isascii() or not serial.isdigit():
        raise ValidationError(
            "Le numéro de série ne doit contenir que des chiffres.", code="serial_digits"
        )
    if with_photo and len(serial) != 11:
        raise ValidationError(
            "Le numéro de série d'une carte Vitale avec photo comporte 11 chiffres.",
            code="serial_length",
        )
    if not with_photo and not 8 <= len(serial) <= 13:
        raise ValidationError(
            "Le numéro de série d'une carte Vitale sans photo comporte de 8 à 13 chiffres.",
            code="serial_length",
        )
    if len(serial) == 8 and _is_date_ddmmyyyy(serial):
        raise ValidationError(
            "Ce numéro ressemble à une date : saisissez le numéro de série de la carte.",
            code="serial_date",
        )
    if nir and serial in nir:
        raise ValidationError(
            "Ce numéro fait partie du numéro de sécurité sociale : saisissez le numéro de série.",
            code="serial_in_nir",
        )
    return serial


# Metropolitan France and the overseas territories whose mobiles we accept.
MOBILE_REGIONS = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF"})
_MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE,)


_prefix_cache: dict[str, bool] = {}


def _french_mobile_prefix_ok(e164: str) -> bool:
    # libphonenumber decides a French mobile's validity from its leading digits (the length is
    # fixed by the regex before); caching on the first 5 national digits keeps a million-row
    # import from parsing every number from scratch.
    prefix = e164[:8]
    known = _prefix_cache.get(prefix)
    if known is None:
        known = _prefix_cache[prefix] = _mobile_ok(phonenumbers.parse(e164))
    return known


def _mobile_ok(number) -> bool:
    return (
        phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) in _MOBILE_TYPES
        and phonenumbers.region_code_for_number(number) in MOBILE_REGIONS
    )


def parse_mobile(value: str) -> str:
    """A French mobile number (metropolitan or overseas), returned in E.164."""
    raw = _SEPARATORS.sub("", value or "").replace("(0)", "")
    e164 = ""
    if re.fullmatch(r"0[67]\d{8}", raw):
        e164 = "+33" + raw[1:]
    elif re.fullmatch(r"(?:\+|00)33[67]\d{8}", raw):
        e164 = "+33" + raw[-9:]
    if e164:
        if _french_mobile_prefix_ok(e164):
            return e164
        raise ValidationError(
            "Ce numéro n'est pas un numéro de mobile français.", code="mobile_invalid"
        )
    for region in ("FR", "GP", "MQ", "GF", "RE", "YT"):
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            break
        if _mobile_ok(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if raw.startswith("+"):
            break
    raise ValidationError(
        "Saisissez un numéro de mobile français valide, par exemple 06 12 34 56 78.",
        code="mobile_invalid",
    )


_IDENTIFIER = re.compile(r"^[a-z0-9._-]+$")


def parse_identifier(value: str, *, nir: str = "") -> str:
    """Login identifier: 8–100 characters of a-z, 0-9 and `.-_` (so never an email), not the NIR."""
    limits = settings.CARNET
    identifier = (value or "").strip()
    if not limits["IDENTIFIER_MIN_LENGTH"] <= len(identifier) <= limits["IDENTIFIER_MAX_LENGTH"]:
        raise ValidationError(
            "L'identifiant doit comporter de %(min)s à %(max)s caractères.",
            code="identifier_length",
            params={
                "min": limits["IDENTIFIER_MIN_LENGTH"],
                "max": limits["IDENTIFIER_MAX_LENGTH"],
            },
        )
    if not _IDENTIFIER.match(identifier):
        raise ValidationError(
            "L'identifiant ne peut contenir que des lettres minuscules sans accent, des chiffres "
            "et les caractères . - _",
            code="identifier_chars",
        )
    if nir and (identifier == nir.lower() or _SEPARATORS.sub("", identifier) == nir.lower()):
        raise ValidationError(
            "L'identifiant ne doit pas être votre numéro de sécurité sociale.",
            code="identifier_nir",
        )
    return identifier


def mask_email(email: str) -> str:
    """m*****@orange.fr"""
    local, _, domain = email.partition("@")
    return f"{local[:1]}*****@{domain}"


def mask_mobile(mobile: str) -> str:
    """*****02858"""
    digits = mobile.lstrip("+")
    return "*****" + digits[-5:]
