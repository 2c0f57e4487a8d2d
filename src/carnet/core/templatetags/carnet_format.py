"""Template filters for French display."""

from django import template

from carnet.core.french import MONTHS

register = template.Library()


@register.filter
def taille(size) -> str:
    """A file size in decimal units, like the "5 Mo" limit: 4 800 000 → "4,8 Mo"."""
    try:
        size = int(size)
    except (TypeError, ValueError):
        return ""
    if size < 1000:
        return f"{size} octet{'s' if size > 1 else ''}"
    if size < 1_000_000:
        return f"{size / 1000:.0f} ko"
    return f"{size / 1_000_000:.1f} Mo".replace(".", ",")


@register.filter(expects_localtime=True)
def jour(value) -> str:
    """A date (or a moment, in local time) as « 2 novembre 2026 »: what `date:"j F Y"` writes,
    without its general format parser — lists show it on every row."""
    if not value:
        return ""
    try:
        return f"{value.day} {MONTHS[value.month - 1]} {value.year}"
    except AttributeError:
        return ""
