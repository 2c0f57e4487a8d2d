"""`consent.decide`, one rule at a time, one actor at a time (issue 6, "Tests that must exist").

Each test names the actor and the rule; the reason code is asserted as well as the answer,
since it is what the trail records. The patient's decisions are written as rows here (the
services that write them are tested on their own)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from carnet.accounts.models import User
from carnet.consent import rules
from carnet.consent.matrix import matrix_cells, matrix_defaults
from carnet.consent.models import Action, CategoryAccess, EmergencyAccess, EmergencySettings
from carnet.core import clock
from carnet.documents.models import Category
from carnet.enrollment import services as enrollment
from carnet.enrollment.models import Space
from carnet.professionals.models import Professional
from tests.enrollment.helpers import PASSWORD

from .conftest import (
    FINESS_HOSPITAL,
    add_document,
    authorise,
    block,
    emergency,
    make_professional,
    make_treating,
)

pytestmark = pytest.mark.django_db

# Every action but the emergency, which has its own rule (6).
ACTIONS = [a for a in Action.values if a != Action.EMERGENCY]
DURATION = settings.CARNET["EMERGENCY_ACCESS_DURATION"]


def decide(actor, space, action, obj=None):
    return rules.decide(getattr(actor, "user", actor), space, action, obj)


def decide_all(actor, space, doc):
    """{action: Decision} for every action but the emergency (a document for DOCUMENT_READ)."""
    return {a: decide(actor, space, a, doc if a == Action.DOCUMENT_READ else None) for a in ACTIONS}


def only(decisions: dict) -> tuple[bool, str]:
    """The one (allowed, reason) shared by all the decisions (fails if they differ)."""
    assert len({(d.allowed, d.reason) for d in decisions.values()}) == 1, decisions
    d = next(iter(decisions.values()))
    return d.allowed, d.reason


def set_switches(space, **switches) -> EmergencySettings:
    found, _ = EmergencySettings.objects.update_or_create(space=space, defaults=switches)
    return found


# --- The owner ------------------------------------------------------------------------------


def test_owner_may_do_everything_on_their_active_space(alice, space, docs, hidden_doc):
    assert only(decide_all(alice, space, docs[Category.CPT_REND])) == (True, rules.OWNER)
    assert decide(alice, space, Action.DOCUMENT_READ, hidden_doc) == rules.allow(rules.OWNER)
    assert decide(alice, space, Action.EMERGENCY).allowed


def test_decision_is_falsy_when_denied(bob, space):
    assert not decide(bob, space, Action.DOCUMENT_LIST)
    assert decide(bob, space, Action.DOCUMENT_LIST) == rules.deny(rules.NOT_A_PROFESSIONAL)


# --- Rule 1: only an active space is open ---------------------------------------------------


def test_closed_space_is_closed_to_everyone_the_owner_included(alice, space, docs, generalist):
    authorise(space, generalist, administrator=True)
    make_treating(space, generalist)
    doc = docs[Category.CPT_REND]
    space = enrollment.space_close(space=space, actor=alice.actor, confirmed=True)
    assert space.state == Space.State.CLOSED
    for actor in (alice, generalist):
        assert only(decide_all(actor, space, doc)) == (False, rules.INACTIVE_SPACE)
        assert decide(actor, space, Action.EMERGENCY) == rules.deny(rules.INACTIVE_SPACE)


@pytest.mark.parametrize("state", [Space.State.OPPOSED, Space.State.PURGED])
def test_opposed_and_purged_spaces_are_closed_to_everyone(alice, space, docs, generalist, state):
    authorise(space, generalist)
    space.state = state
    for actor in (alice, generalist):
        assert only(decide_all(actor, space, docs[Category.CPT_REND])) == (
            False,
            rules.INACTIVE_SPACE,
        )


@pytest.fixture
def pending_space(issue_code):
    issued = issue_code(first_name="Paula")
    found = Space.objects.get(person=issued.person)
    assert found.state == Space.State.PENDING
    return found


def test_pending_space_receives_a_professionals_document_before_anyone_could_consent(
    pending_space, generalist
):
    # Rule 1: "pending spaces can receive documents": the person finds them on activation.
    assert decide(generalist, pending_space, Action.DOCUMENT_ADD) == rules.allow(rules.FEED)
    block(pending_space, generalist)
    assert decide(generalist, pending_space, Action.DOCUMENT_ADD) == rules.deny(rules.BLOCKED)


def test_pending_space_cannot_be_read(pending_space, generalist):
    authorise(pending_space, generalist)
    for action in ACTIONS + [Action.EMERGENCY]:
        if action == Action.DOCUMENT_ADD:
            continue
        assert decide(generalist, pending_space, action) == rules.deny(rules.INACTIVE_SPACE)


# --- Who is not a professional --------------------------------------------------------------


def test_another_patient_is_denied(bob, space, docs):
    assert only(decide_all(bob, space, docs[Category.CPT_REND])) == (
        False,
        rules.NOT_A_PROFESSIONAL,
    )
    assert decide(bob, space, Action.EMERGENCY) == rules.deny(rules.NOT_A_PROFESSIONAL)


def test_an_operator_is_denied(space, docs):
    operator = User.objects.create_user("operateur.consent", PASSWORD, kind=User.Kind.OPERATOR)
    assert only(decide_all(operator, space, docs[Category.CPT_REND])) == (
        False,
        rules.NOT_A_PROFESSIONAL,
    )


def test_professional_account_without_directory_entry_is_denied(space, docs):
    user = User.objects.create_user("pro.sans.annuaire", PASSWORD, kind=User.Kind.PROFESSIONAL)
    assert only(decide_all(user, space, docs[Category.CPT_REND])) == (
        False,
        rules.NOT_A_PROFESSIONAL,
    )
    assert decide(user, space, Action.EMERGENCY) == rules.deny(rules.NOT_A_PROFESSIONAL)


# --- Rule 2: consent, and the care team ----------------------------------------------------


def test_professional_without_authorisation_is_denied(space, docs, generalist):
    assert only(decide_all(generalist, space, docs[Category.CPT_REND])) == (
        False,
        rules.NO_CONSENT,
    )


def test_authorised_professional_may_read_list_and_add(space, docs, generalist):
    authorise(space, generalist)
    assert only(decide_all(generalist, space, docs[Category.CPT_REND])) == (
        True,
        rules.AUTHORISED,
    )


def test_colleague_of_the_same_establishment_is_covered(space, docs, generalist, colleague):
    authorise(space, generalist)
    assert only(decide_all(colleague, space, docs[Category.CPT_REND])) == (True, rules.COLLEAGUE)


def test_colleague_of_another_establishment_is_not(space, docs, generalist, outsider):
    authorise(space, generalist)
    assert only(decide_all(outsider, space, docs[Category.CPT_REND])) == (False, rules.NO_CONSENT)


def test_no_establishment_means_no_care_team(space, docs):
    # Two liberal professionals without FINESS are not each other's colleagues.
    first, second = make_professional("medecin"), make_professional("medecin")
    authorise(space, first)
    assert only(decide_all(second, space, docs[Category.CPT_REND])) == (False, rules.NO_CONSENT)


def test_authorisation_on_another_space_does_not_count(bob_space, space, docs, generalist):
    authorise(bob_space, generalist)
    assert only(decide_all(generalist, space, docs[Category.CPT_REND])) == (
        False,
        rules.NO_CONSENT,
    )


def test_a_document_of_another_space_is_never_read_through_this_one(
    alice, space, bob, bob_space, generalist
):
    authorise(space, generalist)
    bobs = add_document(bob, bob_space, Category.CPT_REND)
    assert not decide(generalist, space, Action.DOCUMENT_READ, bobs).allowed
    assert decide(generalist, bob_space, Action.DOCUMENT_READ, bobs) == rules.deny(rules.NO_CONSENT)


def test_a_deleted_document_is_not_read(alice, space, docs, generalist):
    authorise(space, generalist)
    doc = docs[Category.CPT_REND]
    doc.deleted_at = clock.now()
    doc.save(update_fields=["deleted_at"])
    assert not decide(generalist, space, Action.DOCUMENT_READ, doc).allowed


# --- Rule 3: the profession × category matrix ----------------------------------------------


def test_pharmacist_reads_prescriptions_not_reports(space, docs, pharmacist):
    authorise(space, pharmacist)
    assert decide(pharmacist, space, Action.DOCUMENT_READ, docs[Category.ORD_SOIN]) == (
        rules.allow(rules.AUTHORISED)
    )
    assert decide(pharmacist, space, Action.DOCUMENT_READ, docs[Category.CPT_REND]) == (
        rules.deny(rules.PROFESSION)
    )


def test_dentist_reads_imaging_not_biology(space, docs, dentist):
    authorise(space, dentist)
    assert decide(dentist, space, Action.DOCUMENT_READ, docs[Category.RADIO_SC]).allowed
    assert decide(dentist, space, Action.DOCUMENT_READ, docs[Category.BIOLOGIE]) == (
        rules.deny(rules.PROFESSION)
    )


def test_matrix_is_data_changing_a_cell_changes_the_decision(space, docs, pharmacist):
    authorise(space, pharmacist)
    report = docs[Category.CPT_REND]
    assert not decide(pharmacist, space, Action.DOCUMENT_READ, report)
    CategoryAccess.objects.filter(profession="pharmacien", category=Category.CPT_REND).update(
        allowed=True
    )
    assert decide(pharmacist, space, Action.DOCUMENT_READ, report) == rules.allow(rules.AUTHORISED)
    CategoryAccess.objects.filter(profession="pharmacien", category=Category.ORD_SOIN).update(
        allowed=False
    )
    assert decide(pharmacist, space, Action.DOCUMENT_READ, docs[Category.ORD_SOIN]) == (
        rules.deny(rules.PROFESSION)
    )


def test_saved_synthesis_follows_the_matrix(space, dentist):
    authorise(space, dentist)
    assert decide(dentist, space, Action.SYNTHESIS_READ) == rules.allow(rules.AUTHORISED)
    CategoryAccess.objects.filter(
        profession="chirurgien_dentiste", category=Category.SYNTH_PML
    ).update(allowed=False)
    assert decide(dentist, space, Action.SYNTHESIS_READ) == rules.deny(rules.PROFESSION)


def test_default_matrix_is_the_file_and_complete(db):
    data = matrix_defaults()
    assert set(data["categories"]) == set(Category.values)
    assert set(data["allowed"]) == set(Professional.Profession.values)
    stored = {
        (c.profession, c.category): c.allowed
        for c in CategoryAccess.objects.all()  # loaded by migration 0002
    }
    expected = {(p, c): allowed for p, c, allowed in matrix_cells()}
    assert len(stored) == len(Professional.Profession.values) * len(Category.values)
    assert stored == expected
    # Physicians read everything.
    assert all(allowed for (p, _), allowed in stored.items() if p == "medecin")


@pytest.fixture
def every_profession(space):
    """One authorised professional per profession (none médecin traitant, none administrateur)."""
    found = {}
    for profession in Professional.Profession.values:
        found[profession] = make_professional(profession)
        authorise(space, found[profession])
    return found


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    profession=st.sampled_from(Professional.Profession.values),
    category=st.sampled_from(Category.values),
)
def test_reading_a_visible_document_is_the_matrix_cell(
    space, docs, every_profession, profession, category
):
    cell = CategoryAccess.objects.get(profession=profession, category=category).allowed
    decision = decide(every_profession[profession], space, Action.DOCUMENT_READ, docs[category])
    assert decision == (rules.allow(rules.AUTHORISED) if cell else rules.deny(rules.PROFESSION))


# --- Rule 4: blocking -----------------------------------------------------------------------


def test_blocked_professional_can_do_nothing_even_authorised(space, docs, generalist):
    authorise(space, generalist, administrator=True)
    emergency(space, generalist)
    block(space, generalist)
    assert only(decide_all(generalist, space, docs[Category.CPT_REND])) == (False, rules.BLOCKED)
    for kind in EmergencyAccess.Kind.values:
        assert decide(generalist, space, Action.EMERGENCY, kind) == rules.deny(rules.BLOCKED)


def test_blocked_colleague_is_not_covered_by_the_team(space, docs, generalist, colleague):
    authorise(space, generalist)
    block(space, colleague)
    assert only(decide_all(colleague, space, docs[Category.CPT_REND])) == (False, rules.BLOCKED)
    # The block is personal: the authorised professional keeps access.
    assert decide(generalist, space, Action.DOCUMENT_LIST) == rules.allow(rules.AUTHORISED)


def test_treating_doctor_cannot_be_blocked(space, docs, hidden_doc, generalist):
    make_treating(space, generalist)
    block(space, generalist)  # ignored: the patient changes their médecin traitant instead
    assert only(decide_all(generalist, space, docs[Category.CPT_REND])) == (True, rules.TREATING)
    assert decide(generalist, space, Action.DOCUMENT_READ, hidden_doc) == rules.allow(
        rules.TREATING
    )


# --- Rule 5: hidden documents ---------------------------------------------------------------


def test_treating_doctor_sees_hidden_documents(space, hidden_doc, generalist):
    make_treating(space, generalist)  # without an authorisation of their own
    assert decide(generalist, space, Action.DOCUMENT_READ, hidden_doc) == rules.allow(
        rules.TREATING
    )


def test_administrator_sees_hidden_documents(space, hidden_doc, generalist):
    authorise(space, generalist, administrator=True)
    assert decide(generalist, space, Action.DOCUMENT_READ, hidden_doc) == rules.allow(
        rules.AUTHORISED
    )


def test_other_authorised_professional_does_not_see_hidden(space, hidden_doc, generalist):
    authorise(space, generalist)
    assert decide(generalist, space, Action.DOCUMENT_READ, hidden_doc) == rules.deny(rules.HIDDEN)


def test_colleague_of_an_administrator_does_not_see_hidden(
    space, hidden_doc, generalist, colleague
):
    authorise(space, generalist, administrator=True)
    assert decide(colleague, space, Action.DOCUMENT_READ, hidden_doc) == rules.deny(rules.HIDDEN)


def test_hidden_document_of_a_denied_category_says_profession(alice, space, pharmacist):
    authorise(space, pharmacist)
    hidden_report = add_document(alice, space, Category.CPT_REND, hidden=True)
    assert decide(pharmacist, space, Action.DOCUMENT_READ, hidden_report) == rules.deny(
        rules.PROFESSION
    )


def test_author_sees_the_hidden_document_they_added(space, generalist, colleague):
    authorise(space, generalist)
    mine = add_document(generalist.user, space, Category.CPT_REND, hidden=True)
    assert decide(generalist, space, Action.DOCUMENT_READ, mine) == rules.allow(rules.AUTHORISED)
    # A colleague, covered by the same consent, does not.
    assert decide(colleague, space, Action.DOCUMENT_READ, mine) == rules.deny(rules.HIDDEN)


def test_author_reads_what_they_added_whatever_the_matrix(space, pharmacist):
    authorise(space, pharmacist)
    mine = add_document(pharmacist.user, space, Category.CPT_REND)
    assert decide(pharmacist, space, Action.DOCUMENT_READ, mine) == rules.allow(rules.AUTHORISED)


def test_author_without_authorisation_any_more_is_denied(space, generalist):
    authorisation = authorise(space, generalist)
    mine = add_document(generalist.user, space, Category.CPT_REND, hidden=True)
    authorisation.delete()
    assert decide(generalist, space, Action.DOCUMENT_READ, mine) == rules.deny(rules.NO_CONSENT)


def test_orphaned_documents_are_not_opened_by_accountless_professionals(space, docs):
    # A directory entry without an account (deleted: SET_NULL) and a document whose author's
    # account is gone: `author IS NULL` must never count as "the author".
    pro = make_professional("pharmacien", user=False)
    authorise(space, pro)
    orphan = docs[Category.CPT_REND]
    type(orphan).objects.filter(pk=orphan.pk).update(author=None)
    orphan.refresh_from_db()
    facts = rules.professional_facts(space, pro)
    actor = User.objects.create_user("pro.sans.compte", None, kind=User.Kind.PROFESSIONAL)
    decision = rules.decide(actor, space, Action.DOCUMENT_READ, orphan, facts=facts)
    assert decision == rules.deny(rules.PROFESSION)


# --- Rule 6: emergency access ("bris de glace") ---------------------------------------------


def test_emergency_allowed_by_default(space, outsider):
    # No EmergencySettings row: the defaults of the real service (SAMU and others allowed).
    for kind in EmergencyAccess.Kind.values:
        assert decide(outsider, space, Action.EMERGENCY, kind) == rules.allow(rules.EMERGENCY)
    assert decide(outsider, space, Action.EMERGENCY) == rules.allow(rules.EMERGENCY)


def test_emergency_opposed_by_the_patient(space, outsider):
    set_switches(space, emergency_allowed=False, samu_allowed=True)
    assert decide(outsider, space, Action.EMERGENCY, EmergencyAccess.Kind.OTHER) == rules.deny(
        rules.EMERGENCY_REFUSED
    )
    assert decide(outsider, space, Action.EMERGENCY) == rules.deny(rules.EMERGENCY_REFUSED)
    assert decide(outsider, space, Action.EMERGENCY, EmergencyAccess.Kind.SAMU) == rules.allow(
        rules.EMERGENCY
    )


def test_samu_opposed_by_the_patient(space, outsider):
    set_switches(space, samu_allowed=False, emergency_allowed=True)
    assert decide(outsider, space, Action.EMERGENCY, EmergencyAccess.Kind.SAMU) == rules.deny(
        rules.EMERGENCY_REFUSED
    )
    assert decide(outsider, space, Action.EMERGENCY, EmergencyAccess.Kind.OTHER) == rules.allow(
        rules.EMERGENCY
    )


def test_live_emergency_access_reads_documents(space, docs, outsider):
    emergency(space, outsider)
    decisions = decide_all(outsider, space, docs[Category.CPT_REND])
    # An emergency access reads the record; it does not plan the patient's care.
    assert decisions.pop(Action.APPOINTMENT_ADD) == rules.deny(rules.NO_CONSENT)
    assert only(decisions) == (True, rules.EMERGENCY)


def test_emergency_follows_the_matrix(space, docs, pharmacist):
    emergency(space, pharmacist)
    assert decide(pharmacist, space, Action.DOCUMENT_READ, docs[Category.CPT_REND]) == (
        rules.deny(rules.PROFESSION)
    )
    assert decide(pharmacist, space, Action.DOCUMENT_READ, docs[Category.ORD_SOIN]) == (
        rules.allow(rules.EMERGENCY)
    )


def test_emergency_access_expires_after_24_hours(space, docs, outsider):
    emergency(space, outsider)
    doc = docs[Category.CPT_REND]
    with clock.travel(DURATION - timedelta(minutes=1)):
        assert decide(outsider, space, Action.DOCUMENT_READ, doc) == rules.allow(rules.EMERGENCY)
    with clock.travel(DURATION):
        assert decide(outsider, space, Action.DOCUMENT_READ, doc) == rules.deny(rules.NO_CONSENT)
    with clock.travel(DURATION + timedelta(seconds=1)):
        assert only(decide_all(outsider, space, doc)) == (False, rules.NO_CONSENT)


def test_emergency_access_is_personal(space, docs, outsider):
    emergency(space, outsider)
    same_place = make_professional("medecin", finess=outsider.finess)
    assert decide(same_place, space, Action.DOCUMENT_LIST) == rules.deny(rules.NO_CONSENT)


def test_hidden_documents_in_emergency_only_with_the_switch(space, hidden_doc, outsider):
    emergency(space, outsider)
    assert decide(outsider, space, Action.DOCUMENT_READ, hidden_doc) == rules.deny(rules.HIDDEN)
    set_switches(space, hidden_visible=True)
    assert decide(outsider, space, Action.DOCUMENT_READ, hidden_doc) == rules.allow(rules.EMERGENCY)


def test_hidden_switch_also_opens_hidden_to_an_authorised_professional_in_emergency(
    space, hidden_doc, generalist
):
    authorise(space, generalist)
    set_switches(space, hidden_visible=True)
    assert decide(generalist, space, Action.DOCUMENT_READ, hidden_doc) == rules.deny(rules.HIDDEN)
    emergency(space, generalist)  # the authorised professional breaks the glass too
    assert decide(generalist, space, Action.DOCUMENT_READ, hidden_doc).allowed


def test_hidden_switch_without_emergency_changes_nothing(space, hidden_doc, outsider):
    set_switches(space, hidden_visible=True)
    assert decide(outsider, space, Action.DOCUMENT_READ, hidden_doc) == rules.deny(rules.NO_CONSENT)


# --- A constant number of queries ----------------------------------------------------------


def _queries(actor, space, doc) -> int:
    with CaptureQueriesContext(connection) as captured:
        decide(actor, space, Action.DOCUMENT_READ, doc)
    return len(captured)


@pytest.mark.parametrize("basis", ["authorised", "colleague", "emergency", "treating"])
def test_document_read_costs_a_constant_number_of_queries(
    alice, space, generalist, colleague, outsider, basis, django_assert_num_queries
):
    actor = {"authorised": generalist, "colleague": colleague, "emergency": outsider}.get(
        basis, generalist
    )
    authorise(space, generalist)
    if basis == "emergency":
        emergency(space, outsider)
    if basis == "treating":
        make_treating(space, generalist)
    doc = add_document(alice, space, Category.CPT_REND)
    small = _queries(actor, space, doc)
    assert decide(actor, space, Action.DOCUMENT_READ, doc).allowed

    for n in range(49):  # 50 authorised professionals, some of the same establishment
        other = make_professional("infirmier", finess=FINESS_HOSPITAL if n % 2 else "", user=False)
        authorise(space, other)
    for n in range(199):  # 200 documents
        add_document(alice, space, Category.values[n % len(Category.values)], hidden=n % 3 == 0)
    assert _queries(actor, space, doc) == small
    with django_assert_num_queries(small):
        assert decide(actor, space, Action.DOCUMENT_READ, doc).allowed
    print(f"decide(DOCUMENT_READ) as {basis}: {small} queries")


def test_a_professionals_document_is_stored_in_a_pending_space(pending_space, generalist):
    from carnet.documents import services as documents
    from carnet.documents.files import file_check
    from carnet.documents.models import Document
    from tests.documents.conftest import pdf_bytes

    doc = documents.document_add(
        user=generalist.user,
        space=pending_space,
        checked=file_check("cr.pdf", pdf_bytes()),
        title="Compte rendu",
        category="CPT_REND",
        document_date=pending_space.created_at.date(),
    )
    assert Document.objects.get(pk=doc.pk).author_kind == Document.AuthorKind.PROFESSIONNEL
