"""« Accès à mon dossier » lists every professional who accessed the record (the space's trail)
or who is or was linked to it (authorisation, block, emergency, médecin traitant, current or
former), each with profession and last access, in a constant number of queries."""

import uuid
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from carnet.audit.services import Entry, events_record
from carnet.consent.models import Action, Block, EmergencyAccess
from carnet.consent.rules import decide
from carnet.consent.selectors import related_professional, related_professionals
from carnet.consent.services import access
from carnet.core import clock
from carnet.documents.files import file_check
from carnet.documents.models import Category, Document
from carnet.documents.services import document_add
from tests.consent.conftest import (
    _pdf,
    authorise,
    block,
    emergency,
    make_professional,
    make_treating,
)

pytestmark = pytest.mark.django_db

INDEX = reverse("consent:index")


def url(name, pro):
    return reverse(f"consent:{name}", args=[pro.public_id])


def text(response) -> str:
    return response.content.decode()


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def trail(space, pro, action="acces_documents_liste", **fields):
    """An event of `pro` in the space's trail, as `consent.services.access` writes it."""
    events_record([Entry(actor=pro.user.actor, action=action, space_id=space.public_id, **fields)])


def designation(patient, space, pro) -> Entry:
    """The event `consent.services.treating_doctor_set` writes."""
    return Entry(
        actor=patient.actor,
        action="medecin_traitant_designe",
        space_id=space.public_id,
        object_type="professionnel",
        object_id=str(pro.public_id),
    )


def rows_by_pro(space):
    return {r.professional: r for r in related_professionals(space)}


# --- The defect: a replaced médecin traitant stays on the list ------------------------------


def test_a_replaced_treating_doctor_who_accessed_stays_listed_and_can_be_blocked(
    alice_client, alice, space, generalist, outsider
):
    make_treating(space, generalist)
    events_record([designation(alice, space, generalist)])
    access(generalist.user, space, Action.DOCUMENT_LIST)  # the real door: audited
    accessed_at = clock.now()
    authorise(space, outsider)

    clock.set_offset(timedelta(days=3))
    response = alice_client.post(url("treating", outsider), follow=True)
    assert f"{outsider.full_name} est désormais votre médecin traitant." in flash(response)

    page = text(response)
    rows = {r.professional: r for r in response.context["rows"]}
    assert set(rows) == {generalist, outsider}
    former = rows[generalist]
    assert not former.treating and not former.authorised and not former.blocked
    assert former.former_treating
    assert abs(former.last_access_at - accessed_at) < timedelta(seconds=5)
    assert '<span class="badge">Ancien médecin traitant</span>' in page
    assert url("block_confirm", generalist) in page
    assert "Médecin" in page and "Médecine générale" in page

    confirm = alice_client.get(url("block_confirm", generalist))
    assert confirm.status_code == 200
    response = alice_client.post(url("block", generalist), {"valeur": "1"}, follow=True)
    assert any("est bloqué" in m for m in flash(response))
    assert Block.objects.filter(space=space, professional=generalist).exists()
    assert decide(generalist.user, space, Action.DOCUMENT_LIST).reason == "bloque"


def test_a_replaced_treating_doctor_who_never_accessed_stays_listed(
    alice_client, alice, space, generalist, outsider
):
    """Designated, never opened the record, then replaced: the trail of the patient's
    decisions keeps them on the list, with no access."""
    make_treating(space, generalist)
    events_record([designation(alice, space, generalist)])
    authorise(space, outsider)
    alice_client.post(url("treating", outsider))

    response = alice_client.get(INDEX)
    rows = {r.professional: r for r in response.context["rows"]}
    assert set(rows) == {generalist, outsider}
    assert rows[generalist].former_treating and not rows[generalist].treating
    assert rows[generalist].last_access_at is None
    assert rows[outsider].treating and not rows[outsider].former_treating
    assert "Aucun accès à votre dossier" in text(response)
    assert alice_client.get(url("block_confirm", generalist)).status_code == 200


# --- Who is listed ---------------------------------------------------------------------------


def test_a_professional_known_only_from_the_trail_is_listed_with_last_access(
    alice_client, space, generalist, colleague
):
    """A colleague of the same establishment reads through the team rule: no row of their own,
    only the trail."""
    authorise(space, generalist)
    access(colleague.user, space, Action.DOCUMENT_LIST)
    clock.set_offset(timedelta(days=2))
    access(colleague.user, space, Action.DOCUMENT_LIST)
    last = clock.now()

    response = alice_client.get(INDEX)
    row = {r.professional: r for r in response.context["rows"]}[colleague]
    assert not (row.authorised or row.blocked or row.treating or row.administrator)
    assert abs(row.last_access_at - last) < timedelta(seconds=5)
    page = text(response)
    assert colleague.full_name in page
    assert "Dernier accès" in page
    assert url("block_confirm", colleague) in page
    assert url("treating_confirm", colleague) in page  # a médecin
    assert related_professional(space, colleague.public_id).professional == colleague


def test_unblocked_professional_stays_listed(alice_client, space, pharmacist):
    """Blocked then unblocked without ever accessing: still a decision of the patient."""
    emergency(space, pharmacist)
    alice_client.post(url("block", pharmacist), {"valeur": "1"})
    EmergencyAccess.objects.all().delete()
    alice_client.post(url("block", pharmacist), {"valeur": "0"})
    assert pharmacist in rows_by_pro(space)
    assert url("block_confirm", pharmacist) in text(alice_client.get(INDEX))


def test_others_are_not_listed(alice_client, space, bob_space, generalist, outsider, pharmacist):
    """Events of another space, of the patient, of operators, or malformed: nobody listed."""
    authorise(bob_space, outsider)
    access(outsider.user, bob_space, Action.DOCUMENT_LIST)
    events_record(
        [
            Entry(actor="professionnel:pas-un-uuid", action="x", space_id=space.public_id),
            Entry(actor=f"professionnel:{uuid.uuid4()}", action="x", space_id=space.public_id),
            Entry(actor="operateur:support", action="x", space_id=space.public_id),
            Entry(actor=pharmacist.user.actor, action="x"),  # the service chain
            Entry(
                actor="usager:x",
                action="professionnel_bloque",
                space_id=space.public_id,
                object_type="professionnel",
                object_id="pas-un-uuid",
            ),
        ]
    )
    response = alice_client.get(INDEX)
    assert response.context["rows"] == []
    assert "Aucun professionnel de santé n'a encore accédé à votre dossier." in text(response)
    for pro in (outsider, pharmacist, generalist):
        assert alice_client.get(url("block_confirm", pro)).status_code == 404


def test_a_withheld_result_does_not_reveal_its_author(alice_client, space):
    """Access rules, 9: the trail of a withheld result stays hidden from the patient; its
    author shows up once it is released."""
    author = make_professional("biologiste")
    doc = document_add(
        user=author.user,
        space=space,
        checked=file_check("resultat.pdf", _pdf()),
        title="Résultat",
        category=Category.BIOLOGIE,
        document_date=date(2026, 11, 2),
        withheld=True,
    )
    trail(
        space, author, "acces_document_ajout", object_type="document", object_id=str(doc.public_id)
    )
    assert author not in rows_by_pro(space)
    assert author.full_name not in text(alice_client.get(INDEX))
    assert alice_client.get(url("block_confirm", author)).status_code == 404

    Document.objects.filter(pk=doc.pk).update(withheld_until=None)
    assert rows_by_pro(space)[author].last_access_at is not None


def test_last_access_is_the_latest_of_the_trail_and_emergencies(space, generalist, outsider):
    authorise(space, generalist)
    trail(space, generalist)
    clock.set_offset(timedelta(days=10))
    trail(space, generalist, "acces_document_lecture")
    later = clock.now()
    clock.set_offset(timedelta(days=1))
    emergency(space, outsider)  # an emergency row without its events (written directly)
    rows = rows_by_pro(space)
    assert abs(rows[generalist].last_access_at - later) < timedelta(seconds=5)
    assert rows[outsider].last_access_at == rows[outsider].last_emergency_at


# --- The page's actions ----------------------------------------------------------------------


def test_treating_doctor_has_no_block_button_but_an_explanation(alice_client, space, generalist):
    make_treating(space, generalist)
    trail(space, generalist)
    page = text(alice_client.get(INDEX))
    assert url("block_confirm", generalist) not in page
    assert url("block", generalist) not in page
    assert "Votre médecin traitant ne peut pas être bloqué" in page


def test_block_confirm_of_a_blocked_professional_says_so(alice_client, space, pharmacist):
    block(space, pharmacist)
    response = alice_client.get(url("block_confirm", pharmacist), follow=True)
    assert response.redirect_chain[-1][0] == INDEX
    assert f"{pharmacist.full_name} est déjà bloqué(e)." in flash(response)


def test_treating_confirm_tells_the_former_one_stays_listed(
    alice_client, space, generalist, outsider
):
    make_treating(space, generalist)
    authorise(space, outsider)
    page = text(alice_client.get(url("treating_confirm", outsider)))
    assert f"{generalist.full_name} ne sera plus votre médecin traitant" in page
    assert "restera dans la liste" in page


# --- A constant number of queries, served by indexes ----------------------------------------


def _populate(space, n, patient):
    """`n` more professionals, each related to `space` in one of six ways."""
    for i in range(n):
        pro = make_professional("medecin" if i % 2 else "infirmier")
        kind = i % 6
        if kind == 0:
            authorise(space, pro, administrator=bool(i % 4))
            trail(space, pro)
        elif kind == 1:
            block(space, pro)
        elif kind == 2:
            emergency(space, pro)
            trail(space, pro, "acces_urgence_ouvert")
        elif kind == 3:
            trail(space, pro)  # the trail only
            trail(space, pro, "acces_document_lecture", object_type="document", object_id="x")
        elif kind == 4:  # a former médecin traitant, who never accessed
            events_record([designation(patient, space, pro)])
        else:
            authorise(space, pro)


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries)


@pytest.mark.parametrize("few,many", [(3, 30)])
def test_the_list_costs_the_same_queries_for_3_and_30_professionals(
    alice_client, alice, space, bob_space, settings, few, many
):
    # The session's "last seen" is written once in a while: once here, then not again.
    settings.CARNET = {**settings.CARNET, "SESSION_SEEN_INTERVAL": timedelta(days=1)}
    alice_client.get(INDEX)
    make_treating(space, make_professional("medecin"))
    _populate(space, few, alice)
    few_selector = _queries(lambda: related_professionals(space))
    few_page = _queries(lambda: alice_client.get(INDEX))
    assert len(related_professionals(space)) == few + 1

    _populate(space, many - few, alice)
    many_selector = _queries(lambda: related_professionals(space))
    many_page = _queries(lambda: alice_client.get(INDEX))
    response = alice_client.get(INDEX)
    assert len(response.context["rows"]) == many + 1

    assert many_selector == few_selector <= 8
    assert many_page == few_page


def test_one_professional_is_looked_up_in_a_constant_number_of_queries(alice, space):
    make_treating(space, make_professional("medecin"))
    _populate(space, 12, alice)
    target = related_professionals(space)[-1].professional
    few = _queries(lambda: related_professional(space, target.public_id))
    _populate(space, 18, alice)
    assert _queries(lambda: related_professional(space, target.public_id)) == few


def test_the_reads_of_the_trail_are_served_by_an_index(space, generalist):
    if connection.vendor != "sqlite":
        pytest.skip("without statistics PostgreSQL scans small tables")
    authorise(space, generalist)
    trail(space, generalist)
    with CaptureQueriesContext(connection) as queries:
        related_professionals(space)
    plans = {}
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            sql = query["sql"]
            if '"audit_event"' in sql or '"professionals_professional"' in sql:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                plans[sql] = " / ".join(str(row[-1]) for row in cursor.fetchall())
    audit = [plan for sql, plan in plans.items() if '"audit_event"' in sql]
    assert len(audit) == 2, plans
    for plan in plans.values():
        assert "SCAN audit_event" not in plan, plan
        assert "SCAN professionals_professional" not in plan, plan  # never the directory
    for plan in audit:  # the space's events, by one of the indexes that start with it
        assert "INDEX audit_event_space_" in plan, plan


def test_a_directory_entry_without_account_is_listed(alice_client, space):
    """An entry whose account was deleted (or never activated) keeps its links."""
    pro = make_professional("infirmier", user=False, establishment="Cabinet du Port", city="Sète")
    authorise(space, pro)
    response = alice_client.get(INDEX)
    [row] = response.context["rows"]
    assert row.professional == pro and row.last_access_at is None
    page = text(response)
    assert "Infirmier" in page and "Cabinet du Port, Sète" in page
    assert alice_client.get(url("block_confirm", pro)).status_code == 200
