"""Reads of the registry of insured persons."""

import unicodedata
from datetime import date

from django.db.models.functions import Substr

from .models import InsuredPerson, Sex


def name_key(name: str) -> str:
    """A name as compared between two sources: without accents, case, hyphens, apostrophes
    and doubled spaces ("Lefèvre-d'Arc" and "LEFEVRE D ARC" are the same)."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    for mark in "-'’":
        letters = letters.replace(mark, " ")
    return " ".join(letters.casefold().split())


def persons_matching_pivot(
    *, family_name: str, given_names: str, birth_date: date, sex: str, birthplace: str
) -> list[InsuredPerson]:
    """The insured persons an identity pivot (FranceConnect's: birth name, first names, birth
    date, sex, place of birth as an INSEE code) designates. The place is compared with the
    NIR's digits 6 to 10 (département and commune of birth, or 99 and the country).

    The caller accepts exactly one; none or several means the identity is not certain."""
    if sex not in Sex.values or len(birthplace) != 5:
        return []
    candidates = (
        InsuredPerson.objects.annotate(place=Substr("nir", 6, 5))
        .filter(birth_date=birth_date, sex=sex, place=birthplace.upper())
        .order_by("pk")
    )
    family, given = name_key(family_name), name_key(given_names)
    matching = []
    for person in candidates:
        first = name_key(person.first_name)
        same_first = bool(first) and (given == first or given.startswith(first + " "))
        if name_key(person.last_name) == family and same_first:
            matching.append(person)
    return matching
