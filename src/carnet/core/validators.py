"""Validators for the identifiers of French health insurance: NIR, Vitale serial, mobile, login.

Each `parse_*` function returns the normalised value or raises `ValidationError` with a
French message. They are pure and fast: the registry import calls them a million times.
"""

import re
from datetime import date

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError

# ASCII digits only: `\d` also matches other scripts' digits, which `int()` reads as well, so
# one NIR could have been stored twice under two spellings.
_NIR_SHAPE = re.compile(r"[12][0-9]{2}(?:0[1-9]|1[0-2]|[2-9][0-9])(?:[0-9]{2}|2[AB])[0-9]{8}")
_SEPARATORS = re.compile(r"[\s.\-]")
_DIGITS = re.compile(r"[0-9]+")


def nir_key(first13: str) -> int:
    """Key of a NIR: 97 − (the first 13 digits mod 97), Corsica 2A read as 19 and 2B as 18."""
    digits = first13.replace("2A", "19").replace("2B", "18")
    return 97 - int(digits) % 97


def parse_nir(value: str) -> str:
    """Normalise a NIR ("1 55 12 55 555 555 55" → "155125555555555") and check its key."""
    nir = value or ""
    if not _NIR_SHAPE.fullmatch(nir):  # most input is already normalised: skip the rewrite
        nir = _SEPARATORS.sub("", nir).upper()
        if len(nir) != 15:
            raise ValidationError(
                "Le numéro de sécurité sociale doit comporter 15 caractères.", code="nir_length"
            )
        if not _NIR_SHAPE.fullmatch(nir):
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
    serial = value or ""
    if not _DIGITS.fullmatch(serial):
        serial = _SEPARATORS.sub("", serial)
        if not _DIGITS.fullmatch(serial):
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
# Overseas departments dial their mobiles as 06 9x… / 06 39… / 07 09… inside France: the same
# 9 national digits, under their own country code.
_NATIONAL_REGIONS = ("FR", "GP", "MQ", "GF", "RE", "YT")
_NATIONAL_MOBILE = re.compile(r"0([67][0-9]{8})")
_FRENCH_INTERNATIONAL_MOBILE = re.compile(r"(?:\+|00)33([67][0-9]{8})")
_MOBILE_ERROR = "Saisissez un numéro de mobile français valide, par exemple 06 12 34 56 78."
_NOT_MOBILE_ERROR = "Ce numéro n'est pas un numéro de mobile français."

_prefix_cache: dict[str, str] = {}


def _mobile_country_code(national: str) -> str:
    """The country code ("+33", "+590"…) of a 9-digit national mobile number, or "".

    libphonenumber decides a French or overseas mobile's validity from its first five national
    digits (the length is fixed by the caller's regex): caching on them keeps a million-row
    import from parsing every number from scratch (ADR 0004).
    """
    prefix = national[:5]
    known = _prefix_cache.get(prefix)
    if known is None:
        known = ""
        for region in _NATIONAL_REGIONS:  # what parse("0" + national, region) would build
            number = phonenumbers.PhoneNumber(
                country_code=phonenumbers.country_code_for_region(region),
                national_number=int(national),
            )
            if _mobile_ok(number):
                known = f"+{number.country_code}"
                break
        _prefix_cache[prefix] = known
    return known


def _mobile_ok(number) -> bool:
    return (
        phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) in _MOBILE_TYPES
        and phonenumbers.region_code_for_number(number) in MOBILE_REGIONS
    )


def parse_mobile(value: str) -> str:
    """A French mobile number (metropolitan or overseas), returned in E.164."""
    raw = (value or "").replace(" ", "")
    if not _NATIONAL_MOBILE.fullmatch(raw):  # the usual forms need no more than that
        raw = _SEPARATORS.sub("", raw).replace("(0)", "")
    national = _NATIONAL_MOBILE.fullmatch(raw)
    if national:  # 06…, 07…: metropolitan, else the overseas department using that prefix
        country_code = _mobile_country_code(national[1])
        if country_code:
            return country_code + national[1]
        raise ValidationError(_NOT_MOBILE_ERROR, code="mobile_invalid")
    international = _FRENCH_INTERNATIONAL_MOBILE.fullmatch(raw)
    if international:  # +33 6…, 0033 7…: metropolitan only
        if _mobile_country_code(international[1]) == "+33":
            return "+33" + international[1]
        raise ValidationError(_NOT_MOBILE_ERROR, code="mobile_invalid")
    for region in _NATIONAL_REGIONS:  # other forms (+590 690…): libphonenumber decides
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            break
        if _mobile_ok(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if raw.startswith(("+", "00")):
            break
    raise ValidationError(_MOBILE_ERROR, code="mobile_invalid")


_IDENTIFIER = re.compile(r"[a-z0-9._-]+")


# Identifiers the service gives itself (accounts made by Pro Santé Connect): never chosen.
FEDERATED_IDENTIFIER_PREFIX = "psc-"
RESERVED_IDENTIFIER_PREFIXES = (FEDERATED_IDENTIFIER_PREFIX,)


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
    if not _IDENTIFIER.fullmatch(identifier):
        raise ValidationError(
            "L'identifiant ne peut contenir que des lettres minuscules sans accent, des chiffres "
            "et les caractères . - _",
            code="identifier_chars",
        )
    if identifier.startswith(RESERVED_IDENTIFIER_PREFIXES):
        raise ValidationError(
            "Cet identifiant est réservé : choisissez-en un autre.", code="identifier_reserved"
        )
    nir = _SEPARATORS.sub("", nir).lower()
    if nir and nir in (identifier, _SEPARATORS.sub("", identifier)):
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


# --- RPPS (professionals' directory) ----------------------------------------------------------

_RPPS = re.compile(r"[0-9]{11}")


def rpps_key(first10: str) -> int:
    """Luhn check digit of the first 10 digits of an RPPS number."""
    total = 0
    for position, char in enumerate(reversed(first10)):
        digit = int(char)
        if position % 2 == 0:  # every second digit from the right, the check digit excluded
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def parse_rpps(value: str) -> str:
    """An RPPS number: 11 ASCII digits (spaces, dots, hyphens ignored), the last a Luhn key."""
    rpps = value or ""
    if not _RPPS.fullmatch(rpps):
        rpps = _SEPARATORS.sub("", rpps)
        if rpps and not _DIGITS.fullmatch(rpps):
            raise ValidationError(
                "Le numéro RPPS ne doit contenir que des chiffres.", code="rpps_digits"
            )
        if len(rpps) != 11:
            raise ValidationError("Le numéro RPPS doit comporter 11 chiffres.", code="rpps_length")
    if int(rpps[10]) != rpps_key(rpps[:10]):
        raise ValidationError("La clé du numéro RPPS ne correspond pas.", code="rpps_key")
    return rpps
