"""The list of "Mes documents": filters, sorts, search, pagination, what a row shows, whose
rows it shows, and a constant number of queries whatever the page, filter or sort."""

import html
import re
import secrets
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carnet.core import clock
from carnet.core.models import Blob
from carnet.documents.models import Category, Document, sort_key
from carnet.enrollment.services import space_data_key
from tests.enrollment.helpers import space_of

from .conftest import form_data, pdf_bytes, upload

pytestmark = pytest.mark.django_db

FIRST_DATE = date(2020, 1, 1)


def bulk_documents(user, specs: list[dict] | int, **common) -> list[Document]:
    """Documents of `user`'s space without files (the list never reads them), fast: one Blob
    row each with a random key, then one bulk insert. `specs` is a count or one dict of fields
    per document; by default the n-th document is dated FIRST_DATE + n days."""
    space = space_of(user.person)
    data_key = space_data_key(space)
    if isinstance(specs, int):
        specs = [{} for _ in range(specs)]
    now = clock.now()
    blobs = Blob.objects.bulk_create(
        [
            Blob(key=secrets.token_hex(32), data_key=data_key, size=100, sha256="0" * 64,
                 created_at=now)
            for _ in specs
        ]
    )  # fmt: skip
    docs = []
    for n, (spec, blob) in enumerate(zip(specs, blobs, strict=True)):
        fields = {
            "title": f"Document {n:03d}",
            "category": Category.CPT_REND,
            "document_date": FIRST_DATE + timedelta(days=n),
            "author_name": f"{user.person.first_name} {user.person.last_name}",
            "author_kind": Document.AuthorKind.USAGER,
            **common,
            **spec,
        }
        docs.append(
            Document(
                space=space,
                blob=blob,
                title_key=sort_key(fields["title"]),  # bulk_create skips Document.save
                author_key=sort_key(fields["author_name"]),
                media_type="application/pdf",
                extension="pdf",
                size=100,
                author=user,
                created_at=now,
                updated_at=now,
                **fields,
            )
        )
    return Document.objects.bulk_create(docs)


def listed(response) -> list[str]:
    """The titles of the page, in the order shown."""
    assert response.status_code == 200
    return [d["title"] for d in response.context["page"].object_list]


def count_line(response) -> str:
    found = re.search(r'<p class="list-count" role="status">(.*?)</p>', response.content.decode())
    return found.group(1) if found else ""


# --- Filters --------------------------------------------------------------------------------


def test_filter_by_category(alice_client, alice):
    bulk_documents(
        alice,
        [
            {"title": "NFS", "category": Category.BIOLOGIE},
            {"title": "Compte rendu", "category": Category.CPT_REND},
            {"title": "Glycémie", "category": Category.BIOLOGIE},
            {"title": "Carte vitale", "category": Category.DOC_ADM},
        ],
    )
    response = alice_client.get("/documents/?filtre=BIOLOGIE")
    assert listed(response) == ["Glycémie", "NFS"]
    assert count_line(response) == "1 - 2 sur 2"
    page = response.content.decode()
    assert '<option value="BIOLOGIE" selected>Résultats de biologie</option>' in page
    assert listed(alice_client.get("/documents/?filtre=DOC_ADM")) == ["Carte vitale"]
    empty = alice_client.get("/documents/?filtre=CERT_MED")
    assert listed(empty) == []
    assert "Aucun document ne correspond à votre recherche." in empty.content.decode()


def test_filter_pinned(alice_client, alice):
    bulk_documents(
        alice,
        [
            {"title": "Épinglé ancien", "pinned": True},
            {"title": "Ordinaire"},
            {"title": "Épinglé récent", "pinned": True, "category": Category.BIOLOGIE},
        ],
    )
    response = alice_client.get("/documents/?filtre=epingles")
    assert listed(response) == ["Épinglé récent", "Épinglé ancien"]
    assert '<option value="epingles" selected>Épinglés</option>' in response.content.decode()
    # Pinning through the page puts a document in the filter; unpinning takes it out.
    ordinary = Document.objects.get(title="Ordinaire")
    alice_client.post(f"/documents/{ordinary.public_id}/epingler/", {"valeur": "1"})
    assert "Ordinaire" in listed(alice_client.get("/documents/?filtre=epingles"))
    alice_client.post(f"/documents/{ordinary.public_id}/epingler/", {"valeur": "0"})
    assert "Ordinaire" not in listed(alice_client.get("/documents/?filtre=epingles"))


# --- Sorts ----------------------------------------------------------------------------------

TITLES = ["Zona", "échographie", "Bilan sanguin", "abdomen", "Fracture", "Électrocardiogramme"]
BY_NAME = ["abdomen", "Bilan sanguin", "échographie", "Électrocardiogramme", "Fracture", "Zona"]


@pytest.fixture
def sortable(alice):
    """Six documents: titles of mixed case and accents, dates in no particular order, and
    authors whose names sort differently from the titles."""
    authors = ["Dr Zoé Petit", "Cabinet dentaire", "Dr Élise Bernard", "alice Martin",
               "Dr Anne Roux", "Laboratoire Biomed"]  # fmt: skip
    days = [3, 1, 5, 0, 4, 2]
    return bulk_documents(
        alice,
        [
            {"title": t, "author_name": a, "document_date": FIRST_DATE + timedelta(days=d),
             "author_kind": Document.AuthorKind.PROFESSIONNEL}
            for t, a, d in zip(TITLES, authors, days, strict=True)
        ],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("recents", ["Bilan sanguin", "Fracture", "Zona", "Électrocardiogramme", "échographie",
                     "abdomen"]),
        ("anciens", ["abdomen", "échographie", "Électrocardiogramme", "Zona", "Fracture",
                     "Bilan sanguin"]),
        ("nom", BY_NAME),
        ("nom-inverse", BY_NAME[::-1]),
        # alice Martin, Cabinet dentaire, Dr Anne Roux, Dr Élise Bernard, Dr Zoé Petit, Labo…
        ("ajoute-par", ["abdomen", "échographie", "Fracture", "Bilan sanguin", "Zona",
                        "Électrocardiogramme"]),
        ("ajoute-par-inverse", ["Électrocardiogramme", "Zona", "Bilan sanguin", "Fracture",
                                "échographie", "abdomen"]),
    ],
)  # fmt: skip
def test_every_sort_order(alice_client, sortable, sort, expected):
    response = alice_client.get(f"/documents/?tri={sort}")
    assert listed(response) == expected
    page = response.content.decode()
    assert re.search(rf'<option value="{sort}" selected>', page)
    # The page shows them in that order too.
    positions = [page.index(html.escape(title)) for title in expected]
    assert positions == sorted(positions)


def test_the_default_sort_is_the_most_recent_first(alice_client, sortable):
    assert listed(alice_client.get("/documents/")) == listed(
        alice_client.get("/documents/?tri=recents")
    )


def test_equal_keys_keep_a_stable_order_across_pages(alice_client, alice):
    """25 documents of the same date and title: pages 1 and 2 hold each exactly once."""
    docs = bulk_documents(
        alice, [{"title": "Ordonnance", "document_date": FIRST_DATE} for _ in range(25)]
    )
    for sort in ("recents", "anciens", "nom", "nom-inverse", "ajoute-par"):
        seen = []
        for page in (1, 2):
            response = alice_client.get(f"/documents/?tri={sort}&page={page}")
            seen += [d["public_id"] for d in response.context["page"].object_list]
        assert sorted(seen) == sorted(d.public_id for d in docs), sort


# --- Search ---------------------------------------------------------------------------------


@pytest.fixture
def searchable(alice):
    return bulk_documents(
        alice,
        [
            {"title": "Échographie abdominale"},
            {"title": "compte rendu d'échographie"},
            {"title": "Echo-doppler"},
            {"title": "Bilan ECHO"},
            {"title": "Radio du genou"},
            {"title": "Analyse 50% (1/2) [a-z]*"},
        ],
    )


ALL_ECHO = {"Échographie abdominale", "compte rendu d'échographie", "Echo-doppler", "Bilan ECHO"}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("échographie", {"Échographie abdominale", "compte rendu d'échographie"}),
        ("ÉCHOGRAPHIE", {"Échographie abdominale", "compte rendu d'échographie"}),
        ("echographie", {"Échographie abdominale", "compte rendu d'échographie"}),
        # Neither case nor accents matter: a phone keyboard often has no "É".
        ("Écho", ALL_ECHO),
        ("echo", ALL_ECHO),
        ("  RADIO   du  ", {"Radio du genou"}),
        ("genou", {"Radio du genou"}),
        # Typed characters are text, never patterns (LIKE or regex).
        ("50%", {"Analyse 50% (1/2) [a-z]*"}),
        ("(1/2) [a-z]*", {"Analyse 50% (1/2) [a-z]*"}),
        ("%", {"Analyse 50% (1/2) [a-z]*"}),
        ("_", set()),
        (".*", set()),
        ("scanner", set()),
    ],
)
def test_search_in_titles(alice_client, searchable, typed, expected):
    response = alice_client.get("/documents/", {"q": typed})
    assert set(listed(response)) == expected
    assert response.context["query"].search == " ".join(typed.split())
    if not expected:
        assert "Aucun document ne correspond à votre recherche." in response.content.decode()


def test_search_combines_with_filter_and_sort(alice_client, alice):
    bulk_documents(
        alice,
        [
            {"title": "Écho A", "category": Category.RADIO_SC},
            {"title": "écho B", "category": Category.RADIO_SC},
            {"title": "Écho C", "category": Category.CPT_REND},
        ],
    )
    response = alice_client.get("/documents/", {"q": "écho", "filtre": "RADIO_SC", "tri": "nom"})
    assert listed(response) == ["Écho A", "écho B"]


def test_search_is_kept_in_the_page_links(alice_client, alice):
    bulk_documents(alice, [{"title": f"Écho & co {n}"} for n in range(25)])
    response = alice_client.get("/documents/", {"q": "écho & co", "tri": "nom"})
    assert count_line(response) == "1 - 20 sur 25"
    page = response.content.decode()
    assert 'value="écho &amp; co"' in page
    assert "?q=%C3%A9cho%20%26%20co&amp;filtre=&amp;tri=nom&amp;page=2" in page


@pytest.mark.parametrize("typed", ["\x00", "écho\x00", "\x01\x1f", "a" * 5000])
def test_a_hostile_search_is_harmless(alice_client, searchable, typed):
    response = alice_client.get("/documents/", {"q": typed})
    assert response.status_code == 200
    assert len(response.context["query"].search) <= 100


# --- Pagination -----------------------------------------------------------------------------


@pytest.fixture
def many(alice):
    return bulk_documents(alice, 134)


def test_pagination(alice_client, many):
    first = alice_client.get("/documents/")
    assert count_line(first) == "1 - 20 sur 134"
    assert len(listed(first)) == 20
    assert listed(first)[0] == "Document 133"  # the most recent
    assert "Page 1 sur 7" in first.content.decode()
    assert "page=2" in first.content.decode()
    second = alice_client.get("/documents/?page=2")
    assert count_line(second) == "21 - 40 sur 134"
    assert listed(second)[0] == "Document 113"
    assert "Page précédente" in second.content.decode()
    last = alice_client.get("/documents/?page=7")
    assert count_line(last) == "121 - 134 sur 134"
    assert "Page suivante" not in last.content.decode()


@pytest.mark.parametrize("page", ["8", "999999", "0", "-1", "99999999999999999999999"])
def test_a_page_out_of_range_shows_the_last_page(alice_client, many, page):
    response = alice_client.get(f"/documents/?page={page}")
    assert count_line(response) == "121 - 134 sur 134"


@pytest.mark.parametrize(
    "params",
    [
        "page=abc",
        "page=",
        "page=1.5",
        "page=%00",
        "filtre=INCONNU",
        "filtre=",
        "filtre=%00",
        "filtre=biologie",  # codes are exact
        "tri=n%27importe",
        "tri=-title",
        "tri=",
        "autre=1",
        "filtre[]=BIOLOGIE&tri[]=nom",
    ],
)
def test_garbage_parameters_are_ignored(alice_client, many, params):
    response = alice_client.get(f"/documents/?{params}")
    assert response.status_code == 200
    assert count_line(response) == "1 - 20 sur 134"
    assert listed(response)[0] == "Document 133"
    query = response.context["query"]
    assert query.filter == "" and query.sort == "recents"


def test_an_empty_list_invites_to_add(alice_client):
    page = alice_client.get("/documents/").content.decode()
    assert "Vous n'avez encore aucun document." in page
    assert 'class="list-count"' not in page


# --- What a row shows -----------------------------------------------------------------------


def test_a_row_shows_title_category_date_author_and_badges(alice_client, alice):
    response = alice_client.post(
        "/documents/ajouter/",
        form_data(
            upload("scan.pdf", pdf_bytes()),
            title="Bilan <b>",  # refused: < and >
        ),
    )
    assert response.status_code == 400
    response = alice_client.post(
        "/documents/ajouter/",
        form_data(
            upload("scan.pdf", pdf_bytes()),
            title="Bilan d'avril & suivi",
            category="BIOLOGIE",
            document_date="2026-04-07",
        ),
    )
    assert response.status_code == 302
    bulk_documents(
        alice,
        [
            {
                "title": "Lettre de liaison",
                "author_kind": Document.AuthorKind.PROFESSIONNEL,
                "author_name": "Dr Jeanne Roux",
                "author_establishment": "Hôpital Nord",
                "hidden": True,
                "pinned": True,
                "document_date": date(2025, 12, 1),
            }
        ],
    )
    page = alice_client.get("/documents/").content.decode()
    rows = re.findall(r'<li class="card document-row">(.*?)</li>', page, re.DOTALL)
    assert len(rows) == 2
    mine, theirs = rows
    assert "Bilan d&#x27;avril &amp; suivi" in mine
    assert "<dd>Résultats de biologie</dd>" in mine
    assert "<dd>7 avril 2026</dd>" in mine
    assert "<dt>Ajouté par</dt><dd>Vous (Alice" in mine
    assert "Masqué aux professionnels" not in mine and "Épinglé" not in mine
    assert "Lettre de liaison" in theirs
    assert "<dd>Comptes rendus</dd>" in theirs
    assert "<dd>1 décembre 2025</dd>" in theirs
    assert "<dt>Ajouté par</dt><dd>Dr Jeanne Roux, Hôpital Nord</dd>" in theirs
    assert '<span class="badge badge-hidden">Masqué aux professionnels</span>' in theirs
    assert '<span class="badge">Épinglé</span>' in theirs
    doc = Document.objects.get(title="Lettre de liaison")
    assert f'href="/documents/{doc.public_id}/"' in theirs


# --- Whose rows -----------------------------------------------------------------------------


def test_the_list_never_shows_another_space(alice_client, alice, bob):
    bulk_documents(alice, [{"title": "Écho d'Alice"}])
    bulk_documents(
        bob,
        [
            {"title": "Écho de Bob", "pinned": True},
            {"title": "Bilan de Bob", "category": Category.BIOLOGIE},
        ],
    )
    bob_ids = [str(d.public_id) for d in Document.objects.filter(title__contains="Bob")]
    alice_docs = Document.objects.filter(space__person_id=alice.person_id)
    alice_ids = set(alice_docs.values_list("public_id", flat=True))
    for params in ("", "?filtre=epingles", "?filtre=BIOLOGIE", "?q=bob", "?q=%C3%A9cho",
                   "?tri=nom", "?tri=ajoute-par", "?page=2"):  # fmt: skip
        response = alice_client.get(f"/documents/{params}")
        page = response.content.decode()
        assert "Bob" not in page, params
        assert not any(public_id in page for public_id in bob_ids), params
        assert {d["public_id"] for d in response.context["page"]} <= alice_ids, params


def test_deleted_documents_are_not_listed(alice_client, alice):
    kept, gone = bulk_documents(
        alice, [{"title": "Gardé", "pinned": True}, {"title": "Supprimé", "pinned": True}]
    )
    alice_client.post(f"/documents/{gone.public_id}/supprimer/")
    for params in ("", "?filtre=epingles", "?filtre=CPT_REND", "?q=supprim", "?tri=nom"):
        response = alice_client.get(f"/documents/{params}")
        assert "Supprimé" not in listed(response), params
    response = alice_client.get("/documents/")
    assert listed(response) == ["Gardé"]
    assert count_line(response) == "1 - 1 sur 1"


# --- A constant number of queries -----------------------------------------------------------


def _queries(client, url: str) -> int:
    client.get(url)  # warm: the session's last-seen time is written once, not on every page
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert response.context["page"].object_list, url  # a page with rows, not an empty one
    return len(captured)


def test_the_list_costs_the_same_queries_whatever_its_size(alice_client, alice):
    variants = [
        "",
        "?tri=nom",
        "?tri=anciens",
        "?tri=ajoute-par-inverse",
        "?filtre=BIOLOGIE",
        "?filtre=epingles&tri=nom-inverse",
        "?q=document",
        "?q=DOC&filtre=BIOLOGIE",
    ]
    fields = [
        {"category": Category.BIOLOGIE if n % 2 else Category.CPT_REND, "pinned": n % 3 == 0,
         "hidden": n % 4 == 0}
        for n in range(60)
    ]  # fmt: skip
    bulk_documents(alice, fields[:5])
    small = {url: _queries(alice_client, f"/documents/{url}") for url in variants}
    bulk_documents(alice, fields[5:])
    large = {url: _queries(alice_client, f"/documents/{url}") for url in variants}
    third = {
        url: _queries(alice_client, f"/documents/{url}{'&' if url else '?'}page=3")
        for url in ("", "?tri=nom", "?tri=anciens", "?q=document")
    }
    costs = set(small.values()) | set(large.values()) | set(third.values())
    assert len(costs) == 1, (small, large, third)


def test_the_list_query_count_is_known(alice_client, alice, django_assert_num_queries):
    """Five, whatever the number of rows: the session, the user, the space with its person
    (named in the page header), the counts (the page's documents, the withheld ones waiting:
    "un document vous attend"), the slice. The switcher's linked profiles are read once per
    renewal of the session, which is saved only then (tests/security/test_sessions.py)."""
    bulk_documents(alice, 60)
    alice_client.get("/documents/")
    with django_assert_num_queries(5):
        alice_client.get("/documents/?page=3&tri=nom")


def test_each_row_shows_its_facts(alice_client, alice):
    """What a row says, read back from the hand-written statement: the link, the date in
    French, the category's label, the author, the badges."""
    (doc,) = bulk_documents(
        alice,
        [
            {
                "title": "Bilan sanguin",
                "category": Category.BIOLOGIE,
                "document_date": date(2020, 1, 1),
                "pinned": True,
                "hidden": True,
            }
        ],
    )
    page = alice_client.get("/documents/").content.decode()
    assert f'<a href="/documents/{doc.public_id}/">Bilan sanguin</a>' in page
    assert "<dd>1 janvier 2020</dd>" in page
    assert f"<dd>{Category.BIOLOGIE.label}</dd>" in page
    assert '<span class="badge">Épinglé</span>' in page
    assert "Masqué aux professionnels" in page
