"""Reads about spaces, scoped to the asking user."""

from .models import Space


def space_for_user(user) -> Space | None:
    """The space the account acts on: a linked profile chosen with the profile switcher (set
    on the request by `family.middleware`, checked at each request), else its own."""
    link = getattr(user, "acting_link", None)
    if link is not None:
        # Read through a linked profile: the reads leave out what the holder's representatives
        # may not see (a minor's confidential documents, documents.selectors).
        link.space.seen_by_representative = True
        return link.space
    return own_space(user)


def own_space(user) -> Space | None:
    """The account holder's own space, whichever profile they act for."""
    if not user.is_authenticated or user.person_id is None:
        return None
    try:  # one space per person (a unique key): no ordering to ask for
        space = Space.objects.select_related("person").get(person_id=user.person_id)
    except Space.DoesNotExist:
        return None
    user.person = space.person  # the same row: the page's header reads it without a query
    return space
