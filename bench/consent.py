"""Benchmark: a professional lists and opens the documents of a patient's space through the full
consent path (`decide` and its audit event), against a bare query of the same rows measured in
the same run; and the number of SQL queries per request as the space grows.

    .venv/bin/python bench/consent.py [--runs R] [--http-runs H]

Sets up a fresh SQLite database and blob directory in a temporary directory, activates one
synthetic person's space through the enrollment services, and fills it twice in turn: first to
100 documents, 5 authorised professionals and 1,000 audit events of the space's chain, then to
1,000 documents, 50 professionals and 10,000 events (documents and blob rows bulk-inserted as
in bench/documents.py, some hidden, some deleted; 20 of them real small encrypted PDFs added
through `documents.services.document_add`, the ones that are opened; the professionals with
their accounts and `Authorisation` rows, a few blocked or with an emergency access; the events
written by `audit.services.events_record` in batches). The measured professional is an
authorised médecin, neither médecin traitant nor administrateur: hidden documents are not his.

At each size, R runs of each, interleaved with their baseline run by run (medians):

- "list": what the patient page does without HTTP: the professional of the account, the facts
  (`rules.professional_facts`), `consent.services.access(DOCUMENT_LIST)` (decide and its audit
  event), the profession's categories and `documents_for_professional` page 1 (slice and count);
  bare: `Document.objects.filter(space, live, category in …, not hidden)` ordered as the page,
  page 1 materialised and counted, with the categories known in advance.
- "open": what the file view does without HTTP: the document row (with its blob), the facts,
  `access(DOCUMENT_READ, doc)` (decide, its visibility query, its event) and
  `documents.services.document_content` (blob read, verified, and its consultation event);
  bare: the document row with its blob, and `blob_read`.

Also the parts of the full paths (facts, decide, one audit event, blob read), the GETs of the pro
patient page and of a file URL through the test client (H runs), and the SQL queries of each
path and request at both sizes (CaptureQueriesContext), which must be the same.

Targets: full path at most 1.5× the bare one at the large size, for "list" and "open"; the same
number of queries at both sizes. Prints one JSON line on stdout; progress goes to stderr.
"""

import random
import statistics
import time
import uuid
from datetime import date

from _common import argument_parser, log, result_print, synthetic_space, throwaway_carnet
from documents import Filler

RATIO_TARGET = 1.5  # full path / bare query, at most
SEED = 20260502
WARMUP = 10
REAL_DOCUMENTS = 20
SMALL = {"documents": 100, "professionals": 5, "events": 1_000}
LARGE = {"documents": 1_000, "professionals": 50, "events": 10_000}
EVENT_BATCH = 1_000
PROFESSIONS = ["medecin", "medecin", "pharmacien", "infirmier", "masseur_kinesitherapeute",
               "biologiste", "radiologue", "sage_femme", "chirurgien_dentiste"]  # fmt: skip
CATEGORIES = ["ORD_SOIN", "BIOLOGIE", "RADIO_SC", "CPT_REND", "CERT_MED", "DOC_ADM", "AUTR_DOC"]


# --- Setup -------------------------------------------------------------------------------------


def small_pdf(n: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.cell(text=f"Compte rendu de consultation n° {n} (banc d'essai du consentement)")
    return bytes(pdf.output())


class Space:
    """The space of the benchmark and what grows in it."""

    def __init__(self, user, space):
        from carnet.enrollment.services import space_data_key

        self.user, self.space = user, space
        self.filler = Filler(user, space, space_data_key(space))
        self.rng = random.Random(SEED)
        self.real = []  # the documents with a real blob, in the order added
        self.professionals = []
        self.events = 0

    def add_real_documents(self, n: int) -> None:
        from carnet.documents.files import file_check
        from carnet.documents.services import document_add

        for i in range(n):
            self.real.append(
                document_add(
                    user=self.user,
                    space=self.space,
                    checked=file_check(f"cr-{i}.pdf", small_pdf(i)),
                    title=f"Compte rendu {i + 1}",
                    category=CATEGORIES[i % len(CATEGORIES)],
                    document_date=date(2026, 1 + i % 12, 1 + i % 28),
                    hidden=i % 5 == 4,  # some are hidden: the médecin does not see them
                )
            )

    def grow_documents(self, total: int) -> None:
        from carnet.documents.models import Document

        self.filler.add(total - Document.objects.filter(space=self.space).count())

    def grow_professionals(self, total: int) -> None:
        from django.db import transaction

        from carnet.accounts.models import User
        from carnet.consent.models import Authorisation, Block, EmergencyAccess
        from carnet.core import clock
        from carnet.core.validators import rpps_key
        from carnet.professionals.models import Professional

        now = clock.now()
        with transaction.atomic():
            for n in range(len(self.professionals) + 1, total + 1):
                first10 = f"10{n:08d}"
                profession = PROFESSIONS[0] if n == 1 else self.rng.choice(PROFESSIONS)
                account = User.objects.create_user(
                    f"banc.pro.{n:03d}", None, kind=User.Kind.PROFESSIONAL
                )
                pro = Professional.objects.create(
                    rpps=f"{first10}{rpps_key(first10)}",
                    last_name=f"FICTIF{n}",
                    first_name="Claire",
                    profession=profession,
                    finess=f"75{n % 7:07d}" if n % 3 else "",
                    user=account,
                    imported_at=now,
                    updated_at=now,
                )
                self.professionals.append(pro)
                Authorisation.objects.create(
                    space=self.space,
                    professional=pro,
                    attested_at=now,
                    administrator=n % 10 == 5,
                )
                if n % 10 == 7:
                    Block.objects.create(space=self.space, professional=pro, blocked_at=now)
                if n % 10 == 3:
                    EmergencyAccess.objects.create(
                        space=self.space,
                        professional=pro,
                        kind=EmergencyAccess.Kind.OTHER,
                        reason="Patient inconscient aux urgences",
                        started_at=now,
                        expires_at=now,  # already over
                    )

    def grow_events(self, total: int) -> None:
        from carnet.audit.models import Event
        from carnet.audit.services import Entry, events_record

        chain = str(self.space.public_id)
        missing = total - Event.objects.filter(chain=chain).count()
        actions = ["acces_documents_liste", "acces_document_lecture", "document_consultation"]
        while missing > 0:
            batch = min(EVENT_BATCH, missing)
            events_record(
                [
                    Entry(
                        actor=f"professionnel:banc.pro.{self.rng.randint(1, 50):03d}",
                        action=self.rng.choice(actions),
                        space_id=self.space.public_id,
                        object_type="document",
                        object_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                        detail={"motif": "autorise"},
                        client="127.0.0.1",
                    )
                    for _ in range(batch)
                ]
            )
            missing -= batch

    def grow(self, size: dict) -> dict:
        from django.db import connection

        from carnet.audit.models import Event
        from carnet.consent.models import Authorisation
        from carnet.documents.models import Document

        started = time.perf_counter()
        self.grow_documents(size["documents"])
        self.grow_professionals(size["professionals"])
        self.grow_events(size["events"])
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        filled = {
            "documents": Document.objects.filter(space=self.space).count(),
            "live_documents": Document.objects.filter(
                space=self.space, deleted_at__isnull=True
            ).count(),
            "professionals": Authorisation.objects.filter(space=self.space).count(),
            "events": Event.objects.filter(chain=str(self.space.public_id)).count(),
        }
        log(f"  filled to {filled} in {time.perf_counter() - started:.1f} s")
        return filled


# --- The paths ---------------------------------------------------------------------------------


class Paths:
    """The full paths and their bare baselines, for one professional reading one space."""

    def __init__(self, space, pro_user, visible_real):
        from carnet.consent.rules import readable_categories
        from carnet.documents.selectors import LIST_FIELDS, SORTS, ListQuery

        self.space, self.user = space, pro_user
        self.query = ListQuery()
        self.order = SORTS[self.query.sort][1]
        self.fields = LIST_FIELDS
        self.categories = sorted(readable_categories("medecin"))  # known in advance (bare)
        self.docs = [d.public_id for d in visible_real]
        self.turn = 0

    def _next_doc(self):
        self.turn = (self.turn + 1) % len(self.docs)
        return self.docs[self.turn]

    def list_full(self):
        from carnet.consent.models import Action
        from carnet.consent.rules import professional_facts
        from carnet.consent.services import access
        from carnet.documents.selectors import documents_for_professional
        from carnet.professionals.selectors import professional_of

        professional = professional_of(self.user)
        facts = professional_facts(self.space, professional)  # the matrix's categories too
        access(self.user, self.space, Action.DOCUMENT_LIST, facts=facts, client="127.0.0.1")
        page = documents_for_professional(self.space, facts, self.query)
        return [d.public_id for d in page.object_list], page.paginator.count

    def list_bare(self):
        from carnet.documents.models import Document

        rows = Document.objects.filter(
            space=self.space,
            deleted_at__isnull=True,
            category__in=self.categories,
            hidden=False,
        )
        page = list(rows.order_by(*self.order).only(*self.fields)[:20])
        return [d.public_id for d in page], rows.count()

    def open_full(self, public_id=None):
        from carnet.consent.models import Action
        from carnet.consent.rules import professional_facts
        from carnet.consent.services import access
        from carnet.documents.services import document_content
        from carnet.professionals.selectors import portal_document, professional_of

        professional = professional_of(self.user)
        facts = professional_facts(self.space, professional)
        doc = portal_document(self.space, public_id or self._next_doc())
        # As the file view: decided here, written once with the consultation's event.
        decision = access(
            self.user, self.space, Action.DOCUMENT_READ, doc, facts=facts, record=False
        )
        return document_content(
            user=self.user, doc=doc, download=False, client="127.0.0.1", basis=decision.reason
        )

    def open_bare(self, public_id=None):
        from carnet.core.blobs import blob_read
        from carnet.documents.models import Document

        doc = (
            Document.objects.filter(
                space=self.space, deleted_at__isnull=True, public_id=public_id or self._next_doc()
            )
            .select_related("blob")
            .get()
        )
        return blob_read(doc.blob)

    # The parts of the full paths, each alone.

    def part_facts(self):
        from carnet.consent.rules import professional_facts
        from carnet.professionals.selectors import professional_of

        return professional_facts(self.space, professional_of(self.user))

    def part_audit(self):
        from carnet.consent.services import _audit

        _audit(self.user.actor, self.space, "acces_documents_liste", motif="autorise")


def interleaved(pairs: dict, runs: int) -> dict:
    """Medians of every function of `pairs` (name → function), taking turns run by run after
    WARMUP untimed rounds, so that a load on the machine weighs on all of them alike."""
    times = {name: [] for name in pairs}
    for run in range(WARMUP + runs):
        for name, function in pairs.items():
            started = time.perf_counter()
            function()
            if run >= WARMUP:
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def queries(function) -> tuple[int, list[str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        function()
    return len(captured), [q["sql"][:60] for q in captured.captured_queries]


def measure(paths: Paths, client, space, runs: int, http_runs: int) -> dict:
    from carnet.consent.models import Action
    from carnet.consent.rules import decide, professional_facts
    from carnet.core.blobs import blob_read
    from carnet.documents.models import Document
    from carnet.professionals.selectors import professional_of

    # The same rows both ways, and the same file.
    assert paths.list_full() == paths.list_bare(), "list: full and bare rows differ"
    doc_id = paths.docs[0]
    assert paths.open_full(doc_id) == paths.open_bare(doc_id), "open: contents differ"

    patient_url = f"/pro/patients/{space.public_id}/"
    file_url = f"{patient_url}documents/{doc_id}/fichier/"

    def http_patient():
        response = client.get(patient_url)
        assert response.status_code == 200, response.status_code

    def http_file():
        response = client.get(file_url)
        assert response.status_code == 200, response.status_code
        if response.streaming:
            b"".join(response.streaming_content)

    counts = {}
    for name, function in (
        ("list", paths.list_full),
        ("list_bare", paths.list_bare),
        ("open", lambda: paths.open_full(doc_id)),
        ("open_bare", lambda: paths.open_bare(doc_id)),
        ("http_patient_page", http_patient),
        ("http_file", http_file),
    ):
        function()  # once before: per-session writes (last seen…) are throttled
        counts[name], sql = queries(function)
        log(f"  {name}: {counts[name]} queries")
        for line in sql:
            log(f"      {line}")

    professional = professional_of(paths.user)
    facts = professional_facts(space, professional)
    doc = Document.objects.select_related("blob").get(public_id=doc_id)

    log(f"  timing list and open, {runs} runs each…")
    medians = interleaved(
        {
            "list": paths.list_full,
            "list_bare": paths.list_bare,
            "open": paths.open_full,
            "open_bare": paths.open_bare,
            "facts": paths.part_facts,
            "decide_list": lambda: decide(paths.user, space, Action.DOCUMENT_LIST, facts=facts),
            "decide_read": lambda: decide(
                paths.user, space, Action.DOCUMENT_READ, doc, facts=facts
            ),
            "audit_event": paths.part_audit,
            "blob_read": lambda: blob_read(doc.blob),
        },
        runs,
    )
    log(f"  timing the GETs, {http_runs} runs each…")
    medians.update(
        interleaved({"http_patient_page": http_patient, "http_file": http_file}, http_runs)
    )
    ms = {name: round(value * 1000, 3) for name, value in medians.items()}
    result = {
        "list": {
            "full_ms": ms["list"],
            "bare_ms": ms["list_bare"],
            "ratio": round(medians["list"] / medians["list_bare"], 2),
        },
        "open": {
            "full_ms": ms["open"],
            "bare_ms": ms["open_bare"],
            "ratio": round(medians["open"] / medians["open_bare"], 2),
        },
        "parts_ms": {
            k: ms[k] for k in ("facts", "decide_list", "decide_read", "audit_event", "blob_read")
        },
        "http_ms": {k: ms[k] for k in ("http_patient_page", "http_file")},
        "queries": counts,
    }
    log(f"  {result}")
    return result


# --- Main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--runs", type=int, default=200, help="runs of each path per size")
    parser.add_argument("--http-runs", type=int, default=50, help="GETs of each page per size")
    args = parser.parse_args()

    began = time.perf_counter()
    with throwaway_carnet(
        "consent", keep=args.keep, cache_table=True, CARNET_LOG_LEVEL="WARNING"
    ) as _:
        from django.test import Client

        from carnet.consent.rules import readable_categories

        log("activating a space…")
        user, space = synthetic_space("banc.consentement", "banc d'essai du consentement 2026")
        bench = Space(user, space)
        log(f"adding {REAL_DOCUMENTS} real encrypted documents…")
        bench.add_real_documents(REAL_DOCUMENTS)

        sizes = {}
        paths = client = None
        for label, size in (("small", SMALL), ("large", LARGE)):
            log(f"filling to {size}…")
            filled = bench.grow(size)
            if paths is None:
                pro = bench.professionals[0]  # an authorised médecin, not traitant nor admin
                categories = readable_categories(pro.profession)
                visible = [d for d in bench.real if d.category in categories and not d.hidden]
                paths = Paths(space, pro.user, visible)
                client = Client()
                client.force_login(pro.user)
            sizes[label] = {
                "filled": filled,
                **measure(paths, client, space, args.runs, args.http_runs),
            }

        small, large = sizes["small"], sizes["large"]
        constant = {
            name: small["queries"][name] == large["queries"][name] for name in large["queries"]
        }
        result = {
            "sizes": sizes,
            "list_ratio": large["list"]["ratio"],
            "open_ratio": large["open"]["ratio"],
            "queries_per_request": large["queries"],
            "queries_constant": constant,
            "targets_met": {
                "list_ratio": large["list"]["ratio"] <= RATIO_TARGET,
                "open_ratio": large["open"]["ratio"] <= RATIO_TARGET,
                "constant_queries": all(constant.values()),
            },
            "runs": args.runs,
            "http_runs": args.http_runs,
            "seconds_total": round(time.perf_counter() - began, 1),
        }
        result_print(result)


if __name__ == "__main__":
    main()
