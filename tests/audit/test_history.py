"""« Historique d'activité » (/historique/) through HTTP: tabs, who/what/document/channel,
filters, pages, the CSV export, and who may read it."""

import csv
import io
from datetime import timedelta
from uuid import uuid4

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carnet.audit.models import Event
from carnet.audit.services import Entry, events_record
from carnet.core import clock
from carnet.enrollment.selectors import space_for_user
from tests.consent.conftest import add_document, emergency, make_professional
from tests.pages import field_error, is_invalid

URL = "/historique/"


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def doctor(db):
    return make_professional("medecin", first_name="Claire", last_name="NOGUES")


def pro_event(space, pro, action="acces_document_lecture", *, doc=None, at=None, **detail):
    return Entry(
        actor=pro.user.actor,
        action=action,
        space_id=space.public_id,
        object_type="document" if doc is not None else "",
        object_id=str(doc.public_id) if doc is not None else "",
        detail=detail or {"motif": "autorise"},
        at=at,
    )


def owner_event(user, space, action="connexion", *, at=None):
    return Entry(
        actor=user.actor,
        action=action,
        space_id=space.public_id,
        object_type="user",
        object_id=str(user.public_id),
        at=at,
    )


def rows(response):
    assert response.status_code == 200
    return response.context["rows"]


# --- Tabs ------------------------------------------------------------------------------------


def test_professionals_tab_names_the_professional_and_the_document(
    alice, alice_client, space, doctor
):
    doc = add_document(alice, space, title="Bilan sanguin")
    events_record([pro_event(space, doctor, doc=doc)])

    response = alice_client.get(URL)

    [row] = rows(response)  # Alice's own "Ajout d'un document" is not a professional's
    assert row.who == "Claire NOGUES, Médecin (Médecine générale)"
    assert row.label == "Consultation d'un document par un professionnel"
    assert row.document == "Bilan sanguin"
    assert row.channel == "Portail"
    assert row.detail == ""  # the basis of access ("motif : autorise") stays in the service
    html = response.content.decode()
    assert 'aria-current="page">Professionnels</a>' in html
    assert "Claire NOGUES, Médecin (Médecine générale)" in html
    assert "Bilan sanguin" in html


def test_my_activities_tab_shows_my_actions_and_my_account_not_the_professionals(
    alice, alice_client, space, doctor
):
    doc = add_document(alice, space, title="Ordonnance")
    events_record([owner_event(alice, space, "connexion"), pro_event(space, doctor, doc=doc)])

    found = rows(alice_client.get(URL, {"onglet": "mes-activites"}))

    assert {(r.who, r.label) for r in found} >= {
        ("Vous", "Connexion"),
        ("Vous", "Ajout d'un document"),
    }
    assert all(r.who == "Vous" for r in found)
    assert not any("professionnel" in r.label for r in found)
    [added] = [r for r in found if r.label == "Ajout d'un document"]
    assert added.document == "Ordonnance"


def test_professionals_tab_leaves_out_the_service_and_the_owner(alice, alice_client, space):
    events_record(
        [
            Entry(actor="systeme:tick", action="document_purge", space_id=space.public_id),
            owner_event(alice, space),
        ]
    )
    assert rows(alice_client.get(URL)) == []
    assert "Aucune activité pour l'instant." in alice_client.get(URL).content.decode()


@pytest.mark.parametrize(
    ("tab", "text"),
    [
        ("representants", "Aucune activité pour l'instant."),
        ("services", "Aucune activité pour l'instant."),
    ],
)
def test_tabs_without_rows_are_honest_empty_states(alice_client, space, doctor, tab, text):
    events_record([pro_event(space, doctor)])
    response = alice_client.get(URL, {"onglet": tab})
    html = response.content.decode()
    assert response.status_code == 200
    assert text in html
    assert "Claire NOGUES" not in html


def test_unknown_tab_is_the_professionals_tab(alice_client, space, doctor):
    events_record([pro_event(space, doctor)])
    response = alice_client.get(URL, {"onglet": "<script>"})
    assert response.context["tab"] == "professionnels"
    assert len(rows(response)) == 1


# --- Document and channel ---------------------------------------------------------------------


def test_a_document_that_no_longer_exists_is_named_as_deleted(alice_client, space, doctor):
    events_record(
        [
            Entry(
                actor=doctor.user.actor,
                action="acces_document_lecture",
                space_id=space.public_id,
                object_type="document",
                object_id=str(uuid4()),
                detail={"motif": "autorise"},
            )
        ]
    )
    [row] = rows(alice_client.get(URL))
    assert row.document == "document supprimé"


def test_a_document_of_another_space_is_never_named(alice_client, space, bob, doctor):
    bobs = add_document(bob, space_for_user(bob), title="Secret de Bob")
    events_record([pro_event(space, doctor, doc=bobs)])
    [row] = rows(alice_client.get(URL))
    assert row.document == "document supprimé"


def test_emergency_access_shows_its_channel_and_reason(alice_client, space, doctor):
    access = emergency(space, doctor)
    events_record(
        [
            pro_event(space, doctor, "acces_urgence", motif="urgence", at=access.started_at),
            pro_event(space, doctor, "acces_urgence_ouvert", type="urgence", at=access.started_at),
        ]
    )
    opened, decided = rows(alice_client.get(URL))  # newest first; same time: by id
    assert opened.label == "Accès en urgence à votre dossier"
    assert opened.channel == "Accès en urgence — motif : Patient inconscient aux urgences"
    assert decided.channel.startswith("Accès en urgence")


def test_an_unknown_professional_keeps_the_generic_wording(alice_client, space):
    events_record(
        [
            Entry(
                actor=f"professionnel:{uuid4()}",
                action="acces_documents_liste",
                space_id=space.public_id,
            )
        ]
    )
    [row] = rows(alice_client.get(URL))
    assert row.who == "Un professionnel de santé"


# --- Filters ----------------------------------------------------------------------------------


def test_period_filter_keeps_the_days_asked(alice_client, space, doctor):
    now = clock.now()
    events_record(
        [
            pro_event(space, doctor, "acces_documents_liste", at=now - timedelta(days=40)),
            pro_event(space, doctor, "acces_synthese_lecture", at=now - timedelta(days=10)),
        ]
    )
    today = clock.today()
    found = rows(alice_client.get(URL, {"du": str(today - timedelta(days=20)), "au": str(today)}))
    assert [r.label for r in found] == ["Consultation de la synthèse par un professionnel"]
    found = rows(alice_client.get(URL, {"au": (today - timedelta(days=30)).strftime("%d/%m/%Y")}))
    assert [r.label for r in found] == [
        "Consultation de la liste des documents par un professionnel"
    ]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"du": "demain"}, "du", "Indiquez une date valide, par exemple 14/03/2026."),
        ({"au": "2026-02-30"}, "au", "Indiquez une date valide, par exemple 14/03/2026."),
        ("future_du", "du", "La date de début ne peut pas être dans le futur."),
        ("future_au", "au", "La date de fin ne peut pas être dans le futur."),
        ("reversed", "au", "La date de fin doit être le même jour ou après la date de début."),
        ({"type": "tout"}, "type", "Choisissez un type d'action de la liste."),
    ],
)
def test_invalid_filters_are_explained_in_french_next_to_the_field(
    alice_client, space, doctor, query, field, message
):
    events_record([pro_event(space, doctor)])
    today = clock.today()
    query = (
        {
            "future_du": {"du": str(today + timedelta(days=1))},
            "future_au": {"au": str(today + timedelta(days=1))},
            "reversed": {"du": str(today), "au": str(today - timedelta(days=1))},
        }.get(query, query)
        if isinstance(query, str)
        else query
    )

    response = alice_client.get(URL, query)

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    page = response.content.decode()
    assert field_error(page, field) == message
    assert is_invalid(page, field)
    assert response.context["rows"] == []
    # nor is an export made of a filter that was refused
    export = alice_client.get(URL, {**query, "format": "csv"})
    assert export.status_code == 200 and not export.streaming
    assert not Event.objects.filter(action="historique_exporte").exists()


def test_kind_filter(alice, alice_client, space):
    events_record(
        [owner_event(alice, space, "connexion"), owner_event(alice, space, "deconnexion")]
    )
    add_document(alice, space, title="Radio")

    found = rows(alice_client.get(URL, {"onglet": "mes-activites", "type": "connexions"}))
    assert [r.label for r in found] == ["Déconnexion", "Connexion"]
    found = rows(alice_client.get(URL, {"onglet": "mes-activites", "type": "ajouts"}))
    assert [r.label for r in found] == ["Ajout d'un document"]


# --- Pages ------------------------------------------------------------------------------------


def test_fifty_per_page_newest_first(alice_client, space, doctor):
    size = settings.CARNET["ACTIVITY_PAGE_SIZE"]
    start = clock.now() - timedelta(days=2)
    events_record(
        [pro_event(space, doctor, at=start + timedelta(minutes=i)) for i in range(size + 1)]
    )

    first = alice_client.get(URL)
    assert len(rows(first)) == size
    assert [r.at for r in rows(first)] == sorted((r.at for r in rows(first)), reverse=True)
    assert rows(first)[0].at == start + timedelta(minutes=size)
    assert "Page 1 sur 2" in first.content.decode()
    assert "onglet=professionnels&amp;page=2" in first.content.decode()

    second = alice_client.get(URL, {"page": 2})
    [oldest] = rows(second)
    assert oldest.at == start
    assert "Page 2 sur 2" in second.content.decode()


def _page_with(space, doctor, alice, n):
    doc = add_document(alice, space, title="Compte rendu")
    events_record([pro_event(space, doctor, doc=doc) for _ in range(n)])


def test_a_page_costs_the_same_queries_whatever_the_number_of_events(
    alice, alice_client, space, doctor, bob, django_assert_num_queries
):
    _page_with(space, doctor, alice, 5)
    alice_client.get(URL)  # the session's "last seen" is written once, not counted below
    with CaptureQueriesContext(connection) as few:
        assert len(rows(alice_client.get(URL))) == 5

    other = make_professional("pharmacien", first_name="Hugo")
    _page_with(space, other, alice, 115)
    with django_assert_num_queries(len(few.captured_queries)):
        found = rows(alice_client.get(URL))
    assert len(found) == settings.CARNET["ACTIVITY_PAGE_SIZE"]
    assert {r.who for r in found} == {f"Hugo {other.last_name}, Pharmacien"}
    assert {r.document for r in found} == {"Compte rendu"}


# --- CSV export -------------------------------------------------------------------------------


def _csv(response) -> bytes:
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content)


def test_csv_export_of_the_tab_and_filters(alice_client, space, alice):
    risky = make_professional("medecin", first_name='=HYPERLINK("x")', last_name="+DUPONT")
    doc = add_document(alice, space, title="@Analyse")
    events_record(
        [
            pro_event(space, risky, doc=doc),
            pro_event(space, risky, "acces_documents_liste", at=clock.now() - timedelta(days=30)),
        ]
    )

    response = alice_client.get(
        URL, {"format": "csv", "du": str(clock.today() - timedelta(days=1))}
    )

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="historique-')
    body = _csv(response)
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert lines[0] == ["date", "heure", "qui", "action", "document", "canal"]
    [line] = lines[1:]  # the list consultation, 30 days ago, is outside the period
    assert line[2] == '\'=HYPERLINK("x") +DUPONT, Médecin (Médecine générale)'
    assert line[3] == "Consultation d'un document par un professionnel"
    assert line[4] == "'@Analyse"
    assert line[5] == "Portail"
    assert len(line[0]) == 10 and line[0][2] == "/" and len(line[1]) == 5
    [exported] = Event.objects.filter(action="historique_exporte")
    assert exported.actor == alice.actor
    assert exported.space_id == space.public_id
    assert exported.detail["onglet"] == "professionnels"
    assert "du" in exported.detail


def test_csv_export_escapes_minus_and_plus(alice_client, space, alice):
    doc = add_document(alice, space, title="-1 point")
    events_record([owner_event(alice, space, "connexion")])
    text = _csv(alice_client.get(URL, {"format": "csv", "onglet": "mes-activites"})).decode(
        "utf-8-sig"
    )
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert ["'-1 point"] == [line[4] for line in lines[1:] if line[4]]
    assert doc.title == "-1 point"


def test_the_export_is_in_my_activities_afterwards(alice_client, space):
    _csv(alice_client.get(URL, {"format": "csv"}))
    found = rows(alice_client.get(URL, {"onglet": "mes-activites"}))
    assert found[0].label == "Export de l'historique d'activité"
    assert found[0].who == "Vous"


# --- Who may read it --------------------------------------------------------------------------


def test_another_patient_never_sees_alices_history(client, alice, space, doctor, bob):
    doc = add_document(alice, space, title="Bilan d'Alice")
    events_record([pro_event(space, doctor, doc=doc), owner_event(alice, space)])
    client.force_login(bob)
    for tab in ("professionnels", "mes-activites"):
        response = client.get(URL, {"onglet": tab})
        assert all(r.who in ("Vous", "Le service") for r in rows(response))
        assert "Bilan d'Alice" not in response.content.decode()
        assert "NOGUES" not in response.content.decode()
    text = _csv(client.get(URL, {"format": "csv", "onglet": "mes-activites"})).decode()
    assert "Bilan d'Alice" not in text


def test_a_professional_is_sent_back_to_the_portal(client, doctor):
    client.force_login(doctor.user)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/pro/"
    assert client.post(URL).status_code == 403


def test_an_anonymous_visitor_is_sent_to_the_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/?next=/historique/")


def test_a_closed_space_keeps_its_history(alice_client, space):
    from carnet.enrollment.models import Space

    Space.objects.filter(pk=space.pk).update(state=Space.State.CLOSED)
    assert alice_client.get(URL).status_code == 200


def test_a_space_not_active_nor_closed_is_a_404(alice_client, space):
    from carnet.enrollment.models import Space

    Space.objects.filter(pk=space.pk).update(state=Space.State.OPPOSED)
    assert alice_client.get(URL).status_code == 404


def test_settings_index_links_to_the_history(alice_client, space):
    assert 'href="/historique/"' in alice_client.get("/parametres/").content.decode()
