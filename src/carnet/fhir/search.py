"""FHIR search: parameters parsed strictly (an unknown or malformed one is a 400 with a French
diagnostic, never a 500), results in a `searchset` Bundle with `self` and `next` links."""

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import DateTimeField
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from .http import Refusal

FIRST_YEAR, LAST_YEAR = 1900, 2200  # dates searched (no overflow at the ends of the calendar)
_PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge")
_COMMON = {"_count", "_offset", "_sort", "patient", "date", "_format"}


def _int(name: str, raw: str, *, low: int, high: int) -> int:
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise Refusal(400, f"Paramètre {name} invalide : un entier entre {low} et {high}.")
    return int(raw)


def _day(raw: str) -> tuple[str, date]:
    prefix = raw[:2] if raw[:2] in _PREFIXES else "eq"
    value = raw[2:] if raw[:2] in _PREFIXES else raw
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        raise Refusal(
            400, "Paramètre date invalide : AAAA-MM-JJ, préfixe ge, le, gt, lt."
        ) from None
    if len(value) != 10:
        raise Refusal(400, "Paramètre date invalide : AAAA-MM-JJ, préfixe ge, le, gt, lt.")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise Refusal(400, f"Paramètre date invalide : une année de {FIRST_YEAR} à {LAST_YEAR}.")
    return prefix, day


def _date_filter(rows, field: str, raw: str):
    prefix, day = _day(raw)
    is_datetime = isinstance(rows.model._meta.get_field(field), DateTimeField)
    start = timezone.make_aware(datetime.combine(day, time.min)) if is_datetime else day
    end = start + timedelta(days=1)
    if prefix == "eq":
        return rows.filter(**{f"{field}__gte": start, f"{field}__lt": end})
    if prefix == "ne":
        return rows.exclude(**{f"{field}__gte": start, f"{field}__lt": end})
    lookups = {"lt": ("lt", start), "le": ("lt", end), "gt": ("gte", end), "ge": ("gte", start)}
    op, bound = lookups[prefix]
    return rows.filter(**{f"{field}__{op}": bound})


def run(request, caller, kind) -> Bundle:
    params = request.GET
    allowed = _COMMON | set(kind.params)
    for name in params:
        if name not in allowed:
            raise Refusal(400, f"Paramètre de recherche non pris en charge : {name[:40]}")
    if params.get("_format", "json") not in ("json", "application/fhir+json"):
        raise Refusal(406, "Seul le format JSON est proposé.")
    default = str(settings.CARNET["FHIR_SEARCH_DEFAULT_COUNT"])
    most = settings.CARNET["FHIR_SEARCH_MAX_COUNT"]
    count = _int("_count", params.get("_count", default), low=1, high=most)
    offset = _int("_offset", params.get("_offset", "0"), low=0, high=1_000_000)
    if caller.space is None:
        raise Refusal(403, "Ce logiciel ne recherche pas dans les données des patients.")
    rows = kind.rows(caller.space)
    patient = params.get("patient")
    if patient is not None and patient.removeprefix("Patient/") != str(caller.space.public_id):
        rows = []  # another profile: nothing of it is visible here
    if isinstance(rows, list):  # nothing, or a few resources built whole (Consent)
        if params.getlist("date") and not kind.date_field:
            raise Refusal(400, "Paramètre date non pris en charge pour ce type.")
        return _bundle(request, kind, rows, params, count, offset)
    for name, apply in kind.params.items():
        if name in params:
            rows = apply(rows, params[name])
    for raw in params.getlist("date"):
        if not kind.date_field:
            raise Refusal(400, "Paramètre date non pris en charge pour ce type.")
        rows = _date_filter(rows, kind.date_field, raw)
    order = params.get("_sort", "-date" if kind.date_field else "")
    if order not in ("", "date", "-date") or (order and not kind.date_field):
        raise Refusal(400, "Tri non pris en charge : date ou -date.")
    if order:
        rows = rows.order_by(f"{'-' if order.startswith('-') else ''}{kind.date_field}", "-pk")
    else:
        rows = rows.order_by("pk")
    return _bundle(request, kind, rows, params, count, offset)


def _bundle(request, kind, rows, params, count: int, offset: int) -> Bundle:
    total = len(rows) if isinstance(rows, list) else rows.count()
    page = list(rows[offset : offset + count])
    base = request.build_absolute_uri(request.path)
    kept = {k: v for k, v in params.items() if k not in ("_offset",)}
    links = [{"relation": "self", "url": f"{base}?{urlencode({**kept, '_offset': offset})}"}]
    if offset + count < total:
        links.append(
            {"relation": "next", "url": f"{base}?{urlencode({**kept, '_offset': offset + count})}"}
        )
    root = request.build_absolute_uri("/fhir/")
    entries = []
    for obj in page:
        resource = kind.map(obj)
        entries.append(
            {
                "fullUrl": f"{root}{kind.name}/{resource.id}",
                "resource": resource,
                "search": {"mode": "match"},
            }
        )
    return Bundle(type="searchset", total=total, link=links, entry=entries or None)
