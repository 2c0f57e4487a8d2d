"""Walk the URL map: every route with its name, a sample URL and whether it is public.

New routes are picked up by themselves; a route whose sample URL cannot be built makes the
tests that use it fail, so that no route escapes them.
"""

import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch


@dataclass(frozen=True)
class Route:
    name: str
    url: str
    public: bool
    callback: object
    params: tuple[str, ...] = ()


# Values tried for every URL parameter, in order: opaque public ids first (our URLs use UUIDs).
SAMPLES = (str(uuid.UUID(int=1)), "1", "exemple")


def _walk(patterns, namespace="", params=()):
    for entry in patterns:
        names = tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, inner, params + names)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", entry, params + names


def _sample_url(name: str, params: tuple[str, ...]) -> str:
    if not params:
        return reverse(name)
    for value in SAMPLES:
        try:
            return reverse(name, kwargs=dict.fromkeys(params, value))
        except NoReverseMatch:
            continue
    raise AssertionError(f"no sample URL for {name}: add a value to SAMPLES")


def routes() -> list[Route]:
    found = [
        Route(
            name=name,
            url=_sample_url(name, params),
            public=getattr(pattern.callback, "login_required", True) is False,
            callback=pattern.callback,
            params=params,
        )
        for name, pattern, params in _walk(get_resolver().url_patterns)
    ]
    assert found, "the URL map is empty"
    return found


def route_ids(items) -> list[str]:
    return [r.name for r in items]
