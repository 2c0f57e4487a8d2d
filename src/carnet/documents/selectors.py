"""Reads of the documents, always scoped to one space.

The rule "the owner reads their own active space" lives in `documents_space`; professionals
read through `consent.decide` and `documents_for_professional`. A page of the list costs a constant
number of queries (a count and a slice) served by the partial indexes of `Document`.
"""

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from carnet.core import clock
from carnet.enrollment.models import Space
from carnet.enrollment.selectors import space_for_user

from .models import CareEvent, Category, Document, sort_key

SORTS = {
    "recents": ("Plus récents", ("-document_date", "-id")),
    "anciens": ("Plus anciens", ("document_date", "id")),
    "nom": ("Nom A→Z", ("title_key", "id")),
    "nom-inverse": ("Nom Z→A", ("-title_key", "-id")),
    "ajoute-par": ("Ajouté par A→Z", ("author_key", "id")),
    "ajoute-par-inverse": ("Ajouté par Z→A", ("-author_key", "-id")),
}
DEFAULT_SORT = "recents"
PINNED = "epingles"
LIST_FIELDS = (
    "public_id", "title", "category", "document_date", "media_type", "size", "author_kind",
    "author_name", "author_establishment", "hidden", "pinned", "created_at", "author",
    "withheld_until",
)  # fmt: skip


def documents_space(user) -> Space:
    """The space whose documents `user` may manage: their own, active."""
    space = space_for_user(user)
    if space is None or space.state != Space.State.ACTIVE:
        raise Http404
    return space


def live_documents(space: Space, *, withheld: bool = False):
    """The live documents of a space as its owner sees them: without the ones a professional
    withholds until the announcement consultation, unless `withheld` (the professionals' reads).
    """
    rows = Document.objects.filter(space=space, deleted_at__isnull=True)
    if getattr(space, "seen_by_representative", False):
        # A legal representative (or anyone acting for the holder) never sees a minor's
        # confidential acts: not in the list, the search, the counts or any other read.
        rows = rows.filter(confidential=False)
    if not withheld:
        # Released by its author or by `carnet tick` once due (withheld_until set back to
        # NULL): an IS NULL test the list's indexes serve, unlike a comparison with now.
        rows = rows.filter(withheld_until__isnull=True)
    return rows


@dataclass(frozen=True)
class Waiting:
    """ "Un document vous attend": the withheld documents the patient has been told of (the
    notice of `documents_withheld_sweep`), as a count and a date only, never what they are."""

    count: int
    until: datetime  # the latest release: every waiting document is visible by then


def withheld_document_ids(space_public_id) -> list[str]:
    """The ids of the documents still withheld from the patient: the patient's trail leaves
    out their events until release (they would tell a result is waiting, and of what kind)."""
    return [
        str(public_id)
        for public_id in Document.objects.filter(
            space__public_id=space_public_id, withheld_until__isnull=False
        ).values_list("public_id", flat=True)
    ]


def unsaid_document_ids(space: Space) -> list[str]:
    """The documents whose events the space's trail, as this reader sees it, leaves out: the
    withheld ones; and for a legal representative (the space read through a linked profile),
    the minor's confidential ones."""
    if not getattr(space, "seen_by_representative", False):
        return withheld_document_ids(space.public_id)
    return [
        str(public_id)
        for public_id in Document.objects.filter(space=space)
        .filter(Q(withheld_until__isnull=False) | Q(confidential=True))
        .values_list("public_id", flat=True)
    ]


def search_text(raw: str) -> str:
    """The search as typed, whitespace collapsed, without control characters (a NUL byte in a
    query string must not reach the database), cut to DOCUMENT_SEARCH_MAX_LENGTH."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in raw)
    return " ".join(text.split())[: settings.CARNET["DOCUMENT_SEARCH_MAX_LENGTH"]]


@dataclass(frozen=True)
class ListQuery:
    filter: str = ""  # a category code, "epingles", or "" for all
    sort: str = DEFAULT_SORT
    search: str = ""
    page: str | int = 1

    @classmethod
    def from_params(cls, params) -> "ListQuery":
        wanted = params.get("filtre", "")
        sort = params.get("tri", DEFAULT_SORT)
        return cls(
            filter=wanted if wanted in Category.values or wanted == PINNED else "",
            sort=sort if sort in SORTS else DEFAULT_SORT,
            search=search_text(params.get("q", "")),
            page=params.get("page", 1),
        )


# --- "Mes documents", the owner's list: two hand-written statements ---------------------
#
# The most visited page of the service. Through the ORM its reads cost about 1.7 ms of CPU per
# page — building and compiling the querysets, eight times their time in the database —, by
# hand 0.3 ms (bench/load.py measures the page against a bare view). The statements are made
# of fixed fragments chosen by the filter, the search and the sort; every value is a parameter.
# tests/documents/test_list_sql.py checks them against the same reads through the ORM
# (hypothesis: documents, filters, searches, sorts and pages drawn at random, both databases).

ROW_FIELDS = (
    "public_id", "title", "category", "document_date", "author_kind", "author_name",
    "author_establishment", "hidden", "pinned",
)  # fmt: skip


@dataclass(frozen=True)
class DocumentsList:
    page: Page  # of rows: dicts of ROW_FIELDS and "category_label"
    waiting: Waiting | None


def documents_list(space: Space, query: ListQuery) -> DocumentsList:
    """The page of the list its owner asks for (the `live_documents`, filtered, searched and
    sorted as `query` says) and the withheld documents `Waiting`, in two statements."""
    listed, waiting = list_counts(space, query)
    live, live_params = _live_where(space)
    kept, kept_params = _kept_where(query)
    columns = ", ".join(ROW_FIELDS)
    rows = _Rows(
        f"SELECT {columns} FROM {_TABLE}"  # noqa: S608 (fixed fragments; values are parameters)
        f" WHERE {live} AND withheld_until IS NULL{kept} ORDER BY {_ORDER_SQL[query.sort]}",
        [*live_params, *kept_params],
        listed,
    )
    page = Paginator(rows, settings.CARNET["DOCUMENT_PAGE_SIZE"]).get_page(query.page)
    return DocumentsList(page, waiting)


def list_counts(space: Space, query: ListQuery) -> tuple[int, Waiting | None]:
    """The number of documents the list shows for `query`, and the withheld ones `Waiting`:
    one statement, each count served by its own index (`doc_live_count`)."""
    live, live_params = _live_where(space)
    kept, kept_params = _kept_where(query)
    waiting_where = f"{live} AND {_WAITING_SQL}"
    sql = (
        f"SELECT (SELECT COUNT(*) FROM {_TABLE}"  # noqa: S608 (as above)
        f" WHERE {live} AND withheld_until IS NULL{kept}),"
        f" (SELECT COUNT(*) FROM {_TABLE} WHERE {waiting_where}),"
        f" (SELECT MAX(withheld_until) FROM {_TABLE} WHERE {waiting_where})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*live_params, *kept_params, *live_params, *live_params])
        listed, waiting, until = cursor.fetchone()
    return listed, Waiting(waiting, _moment(until)) if waiting else None


_TABLE = Document._meta.db_table
_WAITING_SQL = "withheld_until IS NOT NULL AND withheld_notice_sent_at IS NOT NULL"
# SORTS in SQL: ("-document_date", "-id") → "document_date DESC, id DESC".
_ORDER_SQL = {
    key: ", ".join(
        f"{Document._meta.get_field(name.lstrip('-')).column}"
        f" {'DESC' if name.startswith('-') else 'ASC'}"
        for name in fields
    )
    for key, (_, fields) in SORTS.items()
}


def _live_where(space: Space) -> tuple[str, list]:
    """`live_documents(space, withheld=True)` in SQL."""
    if getattr(space, "seen_by_representative", False):
        return "space_id = %s AND deleted_at IS NULL AND confidential = %s", [space.pk, False]
    return "space_id = %s AND deleted_at IS NULL", [space.pk]


def _kept_where(query: ListQuery) -> tuple[str, list]:
    """`_query_q(query)` in SQL (an empty string, or clauses starting with AND)."""
    sql, params = "", []
    if query.filter == PINNED:
        sql, params = " AND pinned = %s", [True]
    elif query.filter:
        sql, params = " AND category = %s", [query.filter]
    if query.search:
        # Django's `contains`, as each database writes it: %, _ and \ of the search escaped.
        sql += f" AND title_key {connection.operators['contains']}"
        params.append(f"%{connection.ops.prep_for_like_query(sort_key(query.search))}%")
    return sql, params


class _Rows:
    """The list's rows as the paginator sees them: counted already, and each page it slices
    read with one statement (LIMIT, OFFSET), as dicts with the category's label."""

    ordered = True

    def __init__(self, sql: str, params: list, count: int):
        self.sql, self.params, self._count = sql, params, count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, window: slice) -> list[dict]:
        if window.stop <= window.start:  # an empty list: nothing to read
            return []
        labels = dict(Category.choices)
        with connection.cursor() as cursor:
            cursor.execute(
                f"{self.sql} LIMIT %s OFFSET %s",
                [*self.params, window.stop - window.start, window.start],
            )
            found = cursor.fetchall()
        rows = []
        for values in found:
            row = dict(zip(ROW_FIELDS, values, strict=True))
            # SQLite gives the UUID as 32 hex digits, and may give booleans as 0/1.
            row["public_id"] = _uuid(row["public_id"])
            row["hidden"], row["pinned"] = bool(row["hidden"]), bool(row["pinned"])
            row["category_label"] = labels.get(row["category"], "")
            rows.append(row)
        return rows


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _moment(value) -> datetime | None:
    """A moment read by hand: aware from PostgreSQL; from SQLite, UTC text (as Django stores
    it when USE_TZ)."""
    if value is None or isinstance(value, datetime) and value.tzinfo is not None:
        return value
    moment = value if isinstance(value, datetime) else parse_datetime(value)
    return moment.replace(tzinfo=UTC)


def documents_for_professional(space: Space, facts, query: ListQuery) -> Page:
    """The page of the documents a professional may see: the one predicate of the matrix and
    hidden documents (`consent.rules.visible_documents_q`), the same that opens a file, so what
    is not listed does not open."""
    from carnet.consent.rules import visible_documents_q

    rows = live_documents(space, withheld=True).filter(visible_documents_q(facts))
    return _page(rows, query)


def _query_q(query: ListQuery) -> Q:
    """The documents a list's filter and search keep."""
    kept = Q()
    if query.filter == PINNED:
        kept &= Q(pinned=True)
    elif query.filter:
        kept &= Q(category=query.filter)
    if query.search:
        # On the stored accent- and case-free key: "echo" and "ÉCHO" both find "Échographie",
        # the same on SQLite (whose LIKE folds ASCII only) and PostgreSQL.
        kept &= Q(title_key__contains=sort_key(query.search))
    return kept


def _page(rows, query: ListQuery) -> Page:
    rows = rows.filter(_query_q(query)).order_by(*SORTS[query.sort][1]).only(*LIST_FIELDS)
    return Paginator(rows, settings.CARNET["DOCUMENT_PAGE_SIZE"]).get_page(query.page)


def document_of_space(space: Space, public_id) -> Document:
    """A live document of the space; another space's id is a 404, like a missing one."""
    found = live_documents(space).filter(public_id=public_id).select_related("blob").first()
    if found is None:
        raise Http404
    return found


def restorable_since() -> datetime:
    """Deleted after this moment, a document is still restorable; before, it awaits the purge
    of the next tick and is no longer shown or restored."""
    return clock.now() - settings.CARNET["DOCUMENT_RETENTION"]


def current_document(space: Space, category: str) -> Document | None:
    """The newest live document of a category (e.g. the advance directives, one at a time)."""
    return live_documents(space).filter(category=category).order_by("-created_at", "-id").first()


def deleted_documents(space: Space):
    """ "Documents supprimés": still restorable, newest deletion first."""
    rows = Document.objects.filter(space=space, deleted_at__gt=restorable_since())
    if getattr(space, "seen_by_representative", False):
        rows = rows.filter(confidential=False)
    return rows.order_by("-deleted_at", "-id")


def deleted_document(space: Space, public_id) -> Document:
    found = deleted_documents(space).filter(public_id=public_id).first()
    if found is None:
        raise Http404
    return found


def purge_date(doc: Document) -> date:
    return timezone.localdate(doc.deleted_at + settings.CARNET["DOCUMENT_RETENTION"])


def retention_days() -> int:
    return settings.CARNET["DOCUMENT_RETENTION"].days


def category_counts(space: Space) -> dict[str, int]:
    from django.db.models import Count

    return dict(live_documents(space).values_list("category").annotate(n=Count("id")).order_by())


# --- Care history ------------------------------------------------------------------------------


@dataclass
class CareMonth:
    month: date  # the first day of the month
    events: list[CareEvent]


def care_history(space: Space) -> list[CareMonth]:
    """The last CARE_HISTORY_MONTHS months of reimbursements, newest month first."""
    today = timezone.localdate(clock.now())
    year, month = today.year, today.month - (settings.CARNET["CARE_HISTORY_MONTHS"] - 1)
    while month <= 0:
        month, year = month + 12, year - 1
    first = date(year, month, 1)
    grouped: dict[date, list[CareEvent]] = {}
    rows = CareEvent.objects.filter(person_id=space.person_id, date__gte=first).order_by(
        "-date", "-id"
    )
    for event in rows:
        grouped.setdefault(event.date.replace(day=1), []).append(event)
    return [CareMonth(month=m, events=e) for m, e in grouped.items()]


def care_event_of_space(space: Space, pk) -> CareEvent:
    found = CareEvent.objects.filter(person_id=space.person_id, pk=pk).first()
    if found is None:
        raise Http404
    return found
