"""The one clock every rule reads (DESIGN invariant 8); tests move it with `travel`."""

from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone

_offset = timedelta(0)


def now() -> datetime:
    return timezone.now() + _offset


def today():
    return timezone.localdate(now())


def set_offset(offset: timedelta) -> None:
    global _offset
    _offset = offset


@contextmanager
def travel(delta: timedelta):
    """Move the clock forward by `delta` for the duration of the block."""
    previous = _offset
    set_offset(previous + delta)
    try:
        yield
    finally:
        set_offset(previous)


def localdate_fr(moment: datetime) -> str:
    """« 3 mars 2027 » in Europe/Paris."""
    from django.utils import formats

    return formats.date_format(timezone.localtime(moment), "j F Y", use_l10n=True)


def localtime_fr(moment: datetime) -> str:
    """« 3 mars 2027 à 10 h 30 » in Europe/Paris."""
    from django.utils import formats

    local = timezone.localtime(moment)
    return f"{formats.date_format(local, 'j F Y', use_l10n=True)} à {local:%H} h {local:%M}"
