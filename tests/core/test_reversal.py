"""The rows' links made from one reversal are the links Django's reverse makes."""

import uuid

from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.core.reversal import links_by_public_id


@settings(deadline=None)  # no timing in tests: the first call builds the URL resolver
@given(st.lists(st.uuids(), max_size=25))
def test_each_link_is_the_one_reverse_makes(ids):
    expected = [reverse("documents:detail", args=[public_id]) for public_id in ids]
    assert links_by_public_id("documents:detail", ids) == expected


def test_the_zero_id_itself_gets_its_link():
    zero = uuid.UUID(int=0)
    assert links_by_public_id("documents:detail", [zero]) == [f"/documents/{zero}/"]
