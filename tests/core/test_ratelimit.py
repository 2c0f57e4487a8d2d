"""Failure counters shared by every web node: count in a window, block, unblock in time."""

from datetime import timedelta

import pytest

from carnet.core import clock, ratelimit
from carnet.core.models import RateCounter

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _fail(key="k", limit=3):
    return ratelimit.record_failure(key, limit=limit, window=HOUR, lockout=HOUR)


def test_blocks_when_the_limit_is_reached_and_not_before():
    assert not _fail() and not _fail()
    assert ratelimit.blocked_until("k") is None
    assert _fail()
    until = ratelimit.blocked_until("k")
    assert until is not None and until > clock.now()


def test_block_ends_after_the_lockout():
    for _ in range(3):
        _fail()
    with clock.travel(timedelta(minutes=59)):
        assert ratelimit.blocked_until("k") is not None
    with clock.travel(HOUR + timedelta(seconds=1)):
        assert ratelimit.blocked_until("k") is None


def test_failures_outside_the_window_are_forgotten():
    _fail()
    _fail()
    with clock.travel(HOUR + timedelta(seconds=1)):
        assert not _fail()
        assert ratelimit.blocked_until("k") is None


def test_keys_are_independent_and_reset_forgets():
    for _ in range(3):
        _fail("a")
    assert ratelimit.blocked_until("b") is None
    ratelimit.reset("a")
    assert ratelimit.blocked_until("a") is None
    assert not RateCounter.objects.filter(key="a").exists()
