"""Failure counters kept in the database, shared by every web node.

Why not django-ratelimit: it needs a cache with atomic increments, and our embedded
default cache is the database cache, which has none (see docs/adr/0005).
"""

from datetime import datetime, timedelta

from django.db import transaction

from . import clock
from .models import RateCounter


def blocked_until(key: str) -> datetime | None:
    row = RateCounter.objects.filter(key=key).only("blocked_until").first()
    if row and row.blocked_until and row.blocked_until > clock.now():
        return row.blocked_until
    return None


def record_failure(key: str, *, limit: int, window: timedelta, lockout: timedelta) -> bool:
    """Count one failure; returns True when this failure reaches the limit (key now blocked)."""
    now = clock.now()
    with transaction.atomic():
        row, _ = RateCounter.objects.select_for_update().get_or_create(
            key=key, defaults={"window_start": now}
        )
        if row.window_start <= now - window:
            row.count, row.window_start = 0, now
        row.count += 1
        if row.count >= limit:
            row.blocked_until = now + lockout
            row.count, row.window_start = 0, now
        row.save()
        return row.blocked_until is not None and row.blocked_until > now


def reset(key: str) -> None:
    RateCounter.objects.filter(key=key).delete()
