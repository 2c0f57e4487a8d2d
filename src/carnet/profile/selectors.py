"""Reads of the profile. The rule "only the owner (and later their legal representatives)
reads the profile" lives here and nowhere else: every view goes through `profile_space`."""

from decimal import Decimal

from django.http import Http404

from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user

from . import measures
from .models import Measurement


def profile_space(user) -> Space:
    """The space whose profile `user` may read and write: their own, active."""
    space = space_for_user(user)
    if space is None or space.state != Space.State.ACTIVE:
        raise Http404
    return space


def entries(space: Space, model):
    return model.objects.filter(space=space, deleted_at__isnull=True)


def entry(space: Space, model, public_id):
    """One entry of the space; another space's entry is a 404, like a missing one."""
    found = entries(space, model).filter(public_id=public_id).first()
    if found is None:
        raise Http404
    return found


def single_entry(space: Space, model):
    return entries(space, model).first()


def latest_bmi(space: Space) -> tuple[Decimal, object] | None:
    """BMI from the latest weight and height (never typed): (value, date of the latest)."""
    latest = {}
    for kind in ("poids", "taille"):
        latest[kind] = (
            entries(space, Measurement).filter(kind=kind).order_by("-taken_at", "-id").first()
        )
    weight, height = latest["poids"], latest["taille"]
    if weight is None or height is None or height.value <= 0:
        return None
    metres = height.value / Decimal(100)
    bmi = (weight.value / (metres * metres)).quantize(Decimal("0.1"))
    low, high = measures.TYPES["imc"].low, measures.TYPES["imc"].high
    if not low <= bmi <= high:
        return None
    return bmi, max(weight.taken_at, height.taken_at)


def measurement_series(space: Space) -> dict[str, list[Measurement]]:
    """Measurements grouped by type, oldest first (for the charts)."""
    series: dict[str, list[Measurement]] = {}
    for m in entries(space, Measurement).order_by("kind", "taken_at", "id"):
        series.setdefault(m.kind, []).append(m)
    return series
