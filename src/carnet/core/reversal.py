"""Links of a list's rows: one view, many objects named by their public id (a UUID)."""

import uuid

from django.urls import reverse

_ZERO = uuid.UUID(int=0)


def links_by_public_id(view_name: str, public_ids) -> list[str]:
    """The view's link for each id, in order: reversed once, with the zero id, then each id
    written in its place — a reversal per row costs about 40 µs (a twentieth of a list page
    of 20 rows), for the same link with another id."""
    zero = str(_ZERO)
    pattern = reverse(view_name, args=[_ZERO])
    if pattern.count(zero) != 1:  # an id that is not one path segment: reverse each
        return [reverse(view_name, args=[public_id]) for public_id in public_ids]
    return [pattern.replace(zero, str(public_id)) for public_id in public_ids]
