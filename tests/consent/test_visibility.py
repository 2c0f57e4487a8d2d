"""The two forms of "what this professional may see" agree: `visible_documents_q` (the list, a
query) and `document_visible` (opening one document already read, no query). A grid of documents
covers every case (category in or out of the matrix, hidden or not, authored by the professional
or not, deleted or not, of another space); hypothesis draws the facts."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.consent.models import EmergencySettings
from carnet.consent.rules import document_visible, professional_facts, visible_documents_q
from carnet.core import clock
from carnet.documents.models import Category, Document
from carnet.enrollment.selectors import space_for_user

from .conftest import add_document, make_professional

CATEGORIES = [Category.CPT_REND, Category.BIOLOGIE, Category.ORD_SOIN, Category.RADIO_SC]


@pytest.fixture
def grid(alice, bob, space):
    pro = make_professional("medecin")
    for category in CATEGORIES:
        for hidden in (False, True):
            for author in (alice, pro.user):
                add_document(author, space, category, hidden=hidden)
    # Deleted ones, and one of another space added by the same professional.
    for doc in Document.objects.filter(space=space, category=Category.RADIO_SC):
        doc.deleted_at = clock.now()
        doc.save(update_fields=["deleted_at"])
    add_document(pro.user, space_for_user(bob), Category.CPT_REND)
    return pro, list(Document.objects.all())


facts_changes = st.fixed_dictionaries(
    {
        "treating": st.booleans(),
        "administrator": st.booleans(),
        "emergency": st.sampled_from([None, "live"]),
        "hidden_visible": st.booleans(),
        "categories": st.frozensets(st.sampled_from(CATEGORIES)),
    }
)


@pytest.mark.django_db
def test_the_list_predicate_and_the_one_document_check_agree(grid, space):
    pro, docs = grid
    base = professional_facts(space, pro)

    @settings(max_examples=60, deadline=None)
    @given(facts_changes)
    def agree(change):
        facts = replace(
            base,
            treating=change["treating"],
            administrator=change["administrator"],
            emergency=change["emergency"],
            settings=EmergencySettings(space=space, hidden_visible=change["hidden_visible"]),
            categories=frozenset(str(c) for c in change["categories"]),
        )
        listed = set(
            Document.objects.filter(
                visible_documents_q(facts), space=space, deleted_at__isnull=True
            ).values_list("pk", flat=True)
        )
        opened = {d.pk for d in docs if document_visible(facts, d, space)}
        assert listed == opened

    agree()


@pytest.mark.django_db
def test_an_account_less_professional_sees_no_document_by_authorship(space, alice):
    pro = make_professional("medecin", user=False)
    orphan = add_document(alice, space, Category.CPT_REND)
    Document.objects.filter(pk=orphan.pk).update(author=None)
    orphan.refresh_from_db()
    facts = replace(professional_facts(space, pro), categories=frozenset())
    assert not document_visible(facts, orphan, space)
    assert not Document.objects.filter(visible_documents_q(facts), pk=orphan.pk).exists()
