"""The two hand-written statements of "Mes documents" (`documents_list`: the counts, then the
rows of one page) read exactly what the ORM reads: `live_documents` filtered, searched, sorted
and paginated, and the withheld documents the patient was told of ("Un document vous attend") —
for the owner, and for a legal representative, who never learns of a minor's confidential acts.
Hypothesis draws the documents (titles with accents, case, %, _, \\ and spaces; dates and
authors that tie; flags; deleted, withheld, noticed), the filter, sort, search and page; the
reference is the same read written here with the ORM. Run on both databases (make test,
make test-postgres)."""

import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Max, Q
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from carnet.accounts.models import User
from carnet.core import clock
from carnet.documents.models import Category, Document, sort_key
from carnet.documents.selectors import (
    PINNED,
    SORTS,
    ListQuery,
    Waiting,
    documents_list,
    live_documents,
    search_text,
)
from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user
from carnet.family.selectors import link_for
from carnet.tick import run_tick
from tests.consent.conftest import authorise, make_professional
from tests.enrollment.helpers import space_of
from tests.family.conftest import make_child
from tests.family.test_children import SWITCH, attach
from tests.family.test_confidential import SECRET_TITLE, pro_adds

from .test_list import bulk_documents, listed

pytestmark = pytest.mark.django_db

# --- The reference: the list's reads through the ORM, as documented ------------------------

# "Plus récents", "Plus anciens", "Nom A→Z", "Nom Z→A", "Ajouté par A→Z", "Ajouté par Z→A":
# on the accent- and case-free keys, equal keys in the order of addition (or its reverse).
ORDERS = {
    "recents": ("-document_date", "-id"),
    "anciens": ("document_date", "id"),
    "nom": ("title_key", "id"),
    "nom-inverse": ("-title_key", "-id"),
    "ajoute-par": ("author_key", "id"),
    "ajoute-par-inverse": ("-author_key", "-id"),
}


def kept_q(query: ListQuery) -> Q:
    """The filter (a category, or the pinned ones) and the search (a substring of the title,
    neither case nor accents mattering, typed characters never patterns)."""
    kept = Q()
    if query.filter == PINNED:
        kept &= Q(pinned=True)
    elif query.filter:
        kept &= Q(category=query.filter)
    if query.search:
        kept &= Q(title_key__contains=sort_key(query.search))
    return kept


def orm_page(space, query: ListQuery, page_size: int):
    rows = live_documents(space).filter(kept_q(query)).order_by(*ORDERS[query.sort])
    return Paginator(rows, page_size).get_page(query.page)


def orm_waiting(space, representative: bool) -> tuple[int, datetime] | None:
    """The withheld documents of the space the patient was told of, live, and for a legal
    representative never a confidential one: how many, and the latest release."""
    rows = Document.objects.filter(
        space=space,
        deleted_at__isnull=True,
        withheld_until__isnull=False,
        withheld_notice_sent_at__isnull=False,
    )
    if representative:
        rows = rows.filter(confidential=False)
    told = rows.aggregate(count=Count("id"), until=Max("withheld_until"))
    return (told["count"], told["until"]) if told["count"] else None


def expected_row(doc: Document) -> dict:
    return {
        "public_id": doc.public_id,
        "title": doc.title,
        "category": doc.category,
        "document_date": doc.document_date,
        "author_kind": doc.author_kind,
        "author_name": doc.author_name,
        "author_establishment": doc.author_establishment,
        "hidden": doc.hidden,
        "pinned": doc.pinned,
        "category_label": Category(doc.category).label,
    }


@contextmanager
def rolled_back():
    """One example's rows, gone at its end: a savepoint inside the test's transaction (the
    test's fixtures are not reset between hypothesis examples)."""
    savepoint = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)


# --- What hypothesis draws ----------------------------------------------------------------

# Pieces that make equal keys from different titles ("Écho", "ECHO", "echo"), LIKE's special
# characters, case folds that change the length (ß, İ, ﬁ), and compatibility forms whose key
# is not lowercase (㎒ → "MHz", ℌ → "H").
FRAGMENTS = ["Écho", "ECHO", "echo", "écho", "Bilan", "bilan", "100%", "%", "_", "a_b", "aXb",
             "a\\b", "\\", "\\%", "\\_", " ", "  ", "-", "'", "Straße", "STRASSE", "İ", "ı",
             "ﬁ", "Œdème", "oedeme", "㎒", "ℌ", "Zoé", "zoe", "x"]  # fmt: skip
TITLE_CHARS = "aAbBeEéÉèÈêàÀçÇôÔœŒßiIİıxX%_\\ '-09ﬁ㎒ℌ"
# Titles of equal keys ("echo" for the first three), for the ties of the name sorts.
TIED_TITLES = ["Écho", "ECHO", "echo", "Bilan 100%", "bilan 100%", "a_b", "A_B"]
titles = st.one_of(
    st.sampled_from(TIED_TITLES),
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=5).map("".join),
    st.text(TITLE_CHARS, min_size=1, max_size=50),
).map(lambda title: title[:50])

AUTHORS = ["Dr Élise Bernard", "dr elise bernard", "DR ÉLISE BERNARD", "Alice Martin",
           "alice martin", "Laboratoire Biomed", "Cabinet dentaire", "Zoé Petit", "Zoe Petit",
           "Ångström", "_%\\ x"]  # fmt: skip
ESTABLISHMENTS = ["", "Hôpital des Tilleuls", "CHU de Nantes", "Laboratoire 100%"]
# Few dates, so that many documents share one (the sorts' ties).
DATES = [date(2026, 11, 2), date(2026, 11, 3), date(2020, 1, 1), date(1999, 12, 31)]
DELETED_AT = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
NOTICE_AT = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
# Equal moments, moments a microsecond apart (SQLite stores them as text), other time zones.
MOMENTS = [
    datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    datetime(2026, 12, 1, 9, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 12, 1, 9, 0, 0, 500000, tzinfo=UTC),
    datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris")),
    datetime(2027, 1, 15, 23, 59, 59, 999999, tzinfo=UTC),
]
moments = st.one_of(
    st.sampled_from(MOMENTS),
    st.datetimes(  # naive bounds, as hypothesis wants them; the moments drawn are in UTC
        datetime.combine(date(2026, 1, 1), time()),
        datetime.combine(date(2028, 1, 1), time()),
        timezones=st.just(UTC),
    ),
)
COMMON_CATEGORIES = [Category.BIOLOGIE, Category.CPT_REND]

document_specs = st.fixed_dictionaries(
    {
        "title": titles,
        "category": st.one_of(st.sampled_from(COMMON_CATEGORIES), st.sampled_from(Category)),
        "document_date": st.one_of(
            st.sampled_from(DATES), st.dates(date(1900, 1, 1), date(2100, 12, 31))
        ),
        "author_name": st.sampled_from(AUTHORS),
        "author_kind": st.sampled_from(Document.AuthorKind),
        "author_establishment": st.sampled_from(ESTABLISHMENTS),
        "pinned": st.booleans(),
        "hidden": st.booleans(),
        "confidential": st.booleans(),
        # One in four deleted, one in four withheld: most of the drawn documents are listed.
        "deleted_at": st.sampled_from([None, None, None, DELETED_AT]),
        "withheld_until": st.sampled_from([False, False, False, True]).flatmap(
            lambda withheld: moments if withheld else st.none()
        ),
        # Also on a released document (withheld_until back to NULL, the notice kept).
        "withheld_notice_sent_at": st.one_of(st.none(), st.just(NOTICE_AT)),
    }
)

filters = st.one_of(
    st.just(""),
    st.one_of(
        st.sampled_from([PINNED, *COMMON_CATEGORIES]),
        st.sampled_from([*Category.values, "inconnu", "' OR 1=1 --"]),
    ),
)
SORT_PARAMS = [*SORTS, "title_key; DROP TABLE documents_document", ""]
pages = st.one_of(
    st.sampled_from([1, 2, 3, "2", "3"]),
    st.sampled_from(["999999", 10**9, "abc", "", "0", "-1", "2.5"]),
    st.integers(1, 16),
)
SEARCH_CHARS = "aAeEéÉÈxX%_\\ '\"-ßİı0\x00\t"
SEARCHES = ["%", "_", "\\", "%%", "\\%", "\\_", "a_b", "100%", "' OR 1=1 --", "ECHO", "echo",
            "Écho", "ss", "ß", "mhz", "MHz", "h", "  écho  ", "oe", "œ"]  # fmt: skip


def substrings(texts: list[str]):
    return st.sampled_from(texts).flatmap(
        lambda text: st.tuples(
            st.integers(0, len(text)), st.integers(0, len(text)), st.sampled_from([0, 1, 2])
        ).map(lambda cut: (str, str.upper, str.swapcase)[cut[2]](text[min(cut[:2]) : max(cut[:2])]))
    )


@st.composite
def cases(draw):
    # Often enough several pages: a size drawn first (st.lists favours short lists).
    size = draw(st.one_of(st.integers(0, 5), st.integers(6, 40)))
    specs = draw(st.lists(document_specs, min_size=size, max_size=size))
    searches = [st.text(SEARCH_CHARS, max_size=12), st.sampled_from(SEARCHES)]
    if specs:
        found = substrings([spec["title"] for spec in specs])
        searches += [found] * 3  # more likely: a search that finds something
    params = {
        "filtre": draw(filters),
        "tri": draw(st.sampled_from(SORT_PARAMS)),
        "q": draw(st.one_of(st.just(""), st.one_of(searches))),
        "page": draw(pages),
    }
    representative = draw(st.booleans())
    page_size = draw(st.sampled_from([1, 2, 3, 5, settings.CARNET["DOCUMENT_PAGE_SIZE"]]))
    return specs, params, representative, page_size


# Examples run every time, besides the drawn ones: documents tied on every sort key (equal
# title keys, date and author keys), read on a middle page of each sort; and a representative
# whose latest told document is a confidential one.
PLAIN = {
    "title": "Écho",
    "category": Category.CPT_REND,
    "document_date": DATES[0],
    "author_name": AUTHORS[0],
    "author_kind": Document.AuthorKind.PROFESSIONNEL,
    "author_establishment": "",
    "pinned": False,
    "hidden": False,
    "confidential": False,
    "deleted_at": None,
    "withheld_until": None,
    "withheld_notice_sent_at": None,
}
TIED = [{**PLAIN, "title": TIED_TITLES[n % 3], "author_name": AUTHORS[n % 3]} for n in range(8)]
TOLD = [
    {**PLAIN, "withheld_until": MOMENTS[0], "withheld_notice_sent_at": NOTICE_AT},
    {**PLAIN, "withheld_until": MOMENTS[1]},  # not told yet
    {**PLAIN, "withheld_until": MOMENTS[2], "withheld_notice_sent_at": NOTICE_AT,
     "deleted_at": DELETED_AT},
    {**PLAIN, "withheld_until": MOMENTS[4], "withheld_notice_sent_at": NOTICE_AT,
     "confidential": True},
    {**PLAIN, "title": "Glycémie", "confidential": True},
]  # fmt: skip
EXAMPLES = [
    *[(TIED, {"tri": sort, "page": 2}, False, 3) for sort in SORTS],
    *[(TOLD, {"q": "e"}, representative, 20) for representative in (False, True)],
]


# --- 1. The property -----------------------------------------------------------------------


def test_the_hand_written_list_reads_what_the_orm_reads(alice, bob):
    # Another space's documents, live, withheld and noticed: never counted nor listed here.
    bulk_documents(
        bob,
        [
            {"title": title, "withheld_until": until, "withheld_notice_sent_at": notice}
            for title in ("Écho", "a_b", "100%", "Bilan")
            for until, notice in ((None, None), (MOMENTS[-1], NOTICE_AT))
        ],
    )
    space_pk = space_of(alice.person).pk

    @hypothesis_settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(cases())
    def agree(case):
        specs, params, representative, page_size = case
        params = {"filtre": "", "tri": "", "q": "", "page": 1, **params}
        carnet = {**settings.CARNET, "DOCUMENT_PAGE_SIZE": page_size}
        with rolled_back(), override_settings(CARNET=carnet):
            if specs:
                bulk_documents(alice, specs)
            space = Space.objects.get(pk=space_pk)
            if representative:
                space.seen_by_representative = True
            query = ListQuery.from_params(params)
            assert query.search == search_text(params["q"])

            got = documents_list(space, query)
            expected = orm_page(space, query, page_size)

            assert got.page.paginator.count == expected.paginator.count
            assert got.page.paginator.num_pages == expected.paginator.num_pages
            assert got.page.number == expected.number
            assert (got.page.start_index(), got.page.end_index()) == (
                expected.start_index(),
                expected.end_index(),
            )
            rows = list(got.page)
            assert [row["public_id"] for row in rows] == [doc.public_id for doc in expected]
            for row, doc in zip(rows, expected, strict=True):
                assert row == expected_row(doc)
                # Equal is not enough: 1 == True, and a date's text is not a date.
                assert isinstance(row["public_id"], uuid.UUID)
                assert type(row["hidden"]) is bool and type(row["pinned"]) is bool
                assert type(row["document_date"]) is date

            waiting = orm_waiting(space, representative)
            if waiting is None:
                assert got.waiting is None
            else:
                assert isinstance(got.waiting, Waiting)
                assert (got.waiting.count, got.waiting.until) == waiting
                assert got.waiting.until.tzinfo is not None  # the page shows it in Paris time
            # The reference itself, against the drawn documents.
            told = [
                spec["withheld_until"]
                for spec in specs
                if spec["deleted_at"] is None
                and spec["withheld_until"] is not None
                and spec["withheld_notice_sent_at"] is not None
                and not (representative and spec["confidential"])
            ]
            assert waiting == ((len(told), max(told)) if told else None)

    for case in EXAMPLES:
        agree = example(case)(agree)
    agree()


# --- 2. A representative is never told of a minor's withheld confidential act --------------

NOTICE_AFTER = timedelta(days=14, seconds=1)


def withhold(pro, space, title, *, confidential):
    return pro_adds(pro, space, title, confidential=confidential, withheld=True)


def acting_for(client, user, space):
    """The documents page of `user` acting for the linked profile of `space` (logged in again:
    the clock has moved, and a session ends some hours after its login)."""
    client.logout()
    client.force_login(user)
    client.post(SWITCH, {"profil": str(space.public_id)})
    response = client.get(reverse("documents:index"))
    assert response.status_code == 200
    return response


def seen_by(user, space):
    """The space as `user` reads it acting for its linked profile (family.middleware's way)."""
    user.acting_link = link_for(user, space.public_id)
    seen = space_for_user(user)
    assert seen.pk == space.pk and seen.seen_by_representative
    return seen


def test_a_representative_is_not_told_of_a_withheld_confidential_document(
    client, alice_client, alice
):
    child = make_child(alice.person)  # Léa, 11, whose first legal representative is Alice
    attach(alice_client, child)
    space = space_of(child.person)
    pro = make_professional()
    authorise(space, pro)
    secret = withhold(pro, space, SECRET_TITLE, confidential=True)
    assert secret.confidential and secret.withheld_until is not None

    with clock.travel(NOTICE_AFTER):
        assert run_tick()["documents_retenus"] == 1
        secret.refresh_from_db()
        assert secret.withheld_notice_sent_at is not None and secret.withheld_until is not None
        response = acting_for(client, alice, space)
        assert "vous attend" not in response.content.decode()
        assert response.context["waiting"] is None
        assert documents_list(seen_by(alice, space), ListQuery()).waiting is None
        shown = withhold(pro, space, "Glycémie", confidential=False)

    with clock.travel(2 * NOTICE_AFTER):
        assert run_tick()["documents_retenus"] == 1  # the notice of the second one
        shown.refresh_from_db()
        assert shown.withheld_notice_sent_at is not None and shown.withheld_until is not None
        response = acting_for(client, alice, space)
        page = response.content.decode()
        assert "Un document vous attend" in page and "documents vous attendent" not in page
        assert response.context["waiting"] == Waiting(1, shown.withheld_until)
        assert listed(response) == []  # both still withheld
        assert SECRET_TITLE not in page and "Glycémie" not in page
        assert documents_list(seen_by(alice, space), ListQuery()).waiting == Waiting(
            1, shown.withheld_until
        )
        # The minor, in her own space, is told of both.
        lea = User.objects.create_user(
            "lea.martin", None, kind=User.Kind.PATIENT, person=child.person
        )
        client.logout()
        client.force_login(lea)
        own = client.get(reverse("documents:index"))
        assert "2 documents vous attendent" in own.content.decode()
        assert own.context["waiting"] == Waiting(
            2, max(secret.withheld_until, shown.withheld_until)
        )


# --- 3. A search that looks like SQL is text ------------------------------------------------

HOSTILE_TITLES = [
    "Bilan ' OR 1=1 --",
    "Robert'); DROP TABLE documents_document;--",
    'Guillemets "doubles"',
    "Remise 100%",
    "Taux 100 pour cent",
    "a_b",
    "aXb",
    "a\\b",
    "Ordinaire",
]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("' OR 1=1 --", ["Bilan ' OR 1=1 --"]),
        ("' OR '1'='1", []),
        ("1=1", ["Bilan ' OR 1=1 --"]),
        ("'", ["Bilan ' OR 1=1 --", "Robert'); DROP TABLE documents_document;--"]),
        ("'); DROP TABLE documents_document;--", ["Robert'); DROP TABLE documents_document;--"]),
        ('"', ['Guillemets "doubles"']),
        ("%", ["Remise 100%"]),
        ("100%", ["Remise 100%"]),
        ("100 %", []),
        ("%%", []),
        ("%s", []),
        ("%(title)s", []),
        ("_", ["Robert'); DROP TABLE documents_document;--", "a_b"]),
        ("A_B", ["a_b"]),
        ("a%b", []),
        ("\\", ["a\\b"]),
        ("a\\b", ["a\\b"]),
        ("\\%", []),
        ("\\_", []),
        ("\\\\", []),
        ("ordinaire\x00", ["Ordinaire"]),
        ("", HOSTILE_TITLES),
    ],
)
def test_a_search_that_looks_like_sql_is_text(alice_client, alice, typed, expected):
    bulk_documents(alice, [{"title": title} for title in HOSTILE_TITLES])
    response = alice_client.get(reverse("documents:index"), {"q": typed, "tri": "anciens"})
    assert listed(response) == expected
    space = space_of(alice.person)
    query = ListQuery(sort="anciens", search=search_text(typed))
    assert [row["title"] for row in documents_list(space, query).page] == expected
    assert Document.objects.filter(space=space).count() == len(HOSTILE_TITLES)


def test_sql_in_the_other_parameters_is_ignored(alice_client, alice):
    bulk_documents(alice, [{"title": title} for title in HOSTILE_TITLES])
    response = alice_client.get(
        reverse("documents:index"),
        {"filtre": "' OR 1=1 --", "tri": "title_key; DROP TABLE x", "page": "1 OR 1=1"},
    )
    assert listed(response) == HOSTILE_TITLES[::-1]  # all, the most recent first
    assert response.context["query"] == ListQuery(page="1 OR 1=1")
