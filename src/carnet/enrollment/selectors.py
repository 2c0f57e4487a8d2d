"""Reads about spaces, scoped to the asking user."""

from .models import Space


def space_for_user(user) -> Space | None:
    if not user.is_authenticated or user.person_id is None:
        return None
    return Space.objects.filter(person_id=user.person_id).select_related("person").first()
