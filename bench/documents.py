"""Benchmark: the "Mes documents" list as a space grows, and the encrypted upload and download
of a 5 MB PDF, against raw file writes and reads measured in the same run.

    .venv/bin/python bench/documents.py [--sizes 100,10000,100000] [--runs R] [--file-runs F]
                                        [--explain]

Sets up a fresh SQLite database and blob directory in a temporary directory, activates one
synthetic person's space through the enrollment services, then grows that space to each size
in turn (blob rows and documents bulk-inserted, about 2 % of them deleted, then ANALYZE) and
times R GETs of /documents/ through the real view (test client, logged in): page 1 with the
default sort, sorted by name, and filtered on one category; for each, the median of the whole
request (page_s), of its database part (db_s: count and slice) and of the count alone
(count_s). The target is a page at the largest size within 2× of the page at the smallest.

Then it times `blob_put` (encrypt, durable write, row) of a real 5 MB PDF against writing the
same bytes to a file with the same durability (temporary file, write, flush, fsync, rename,
fsync of the directory), and `blob_read` (read, GCM check, SHA-256 check) against a plain read
of a file of the same size, interleaved, F runs each. Target: both at least 30 % of the raw
throughput. malloc is held still (see `Allocator`): "download" compares with recycled memory
(the raw read is then a page-cache copy), "download_fresh_memory" with buffers faulted in anew
on both sides. The full HTTP upload (form, type sniffing, pypdf) and download (streamed
response) are reported as well, outside the target.

Prints one JSON line on stdout; progress (and, with --explain, SQLite's query plans) goes to
stderr.
"""

import hashlib
import io
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import argument_parser, log, result_print, synthetic_space, throwaway_carnet, timed

PAGE_TARGET = 2.0  # page at the largest size / page at the smallest, at most
THROUGHPUT_TARGET = 0.30  # ours / raw baseline, at least
PDF_LIMIT = 5_000_000  # DOCUMENT_MAX_BYTES
BOUNDARY = "BancDocumentsLimite"
SEED = 20260501
WARMUP = 3  # runs not counted, before each series

# What a person's record holds: (category, weight, titles).
TITLES = [
    ("ORD_SOIN", 22, ["Ordonnance {doc}", "Ordonnance kinésithérapie", "Renouvellement {drug}",
                      "Ordonnance lunettes", "Soins infirmiers à domicile"]),
    ("BIOLOGIE", 18, ["Bilan sanguin", "Prise de sang {month}", "Bilan lipidique",
                      "HbA1c et glycémie à jeun", "Sérologie hépatite B", "ECBU"]),
    ("RADIO_SC", 12, ["Échographie abdominale", "Radio du genou droit", "IRM lombaire",
                      "Scanner thoracique", "Mammographie de dépistage", "Écho-doppler"]),
    ("CPT_REND", 16, ["Compte rendu cardiologie", "Consultation {doc}", "CR opératoire",
                      "Compte rendu d'hospitalisation", "Lettre de sortie", "Bilan ORL"]),
    ("DEPISTAG", 5, ["Dépistage colorectal", "Frottis cervico-utérin", "Bilan bucco-dentaire"]),
    ("CERT_MED", 6, ["Certificat sport", "Certificat de vaccination", "Arrêt de travail"]),
    ("DOC_ADM", 9, ["Attestation de droits", "Carte mutuelle {year}", "Facture dentiste",
                    "Devis prothèse auditive", "Feuille de soins"]),
    ("AUTR_DOC", 8, ["Scan {n}", "Photo de l'ordonnance", "Notes personnelles", "Document"]),
    ("SYNTHESE", 1, ["Ma santé en résumé {year}"]),
    ("SYNTH_PML", 1, ["Synthèse médicale {doc}"]),
    ("DIR_ANT", 1, ["Directives anticipées"]),
    ("QUEST_SANTE", 1, ["Questionnaire de santé {year}"]),
]  # fmt: skip
PROFESSIONALS = [
    ("Dr Élodie Martin", "Cabinet médical des Tilleuls"),
    ("Dr Jean-Baptiste Lefèbvre", "CHU de Montpellier"),
    ("Dr Zoé Müller", ""),
    ("Dr Omar Benali", "Clinique Saint-Roch"),
    ("Dr Ange Ndiaye", "Hôpital Saint-Éloi"),
    ("Mme Chloé Dupont, kinésithérapeute", ""),
    ("Dr Œdipe Vasseur", "Centre de radiologie du Lez"),
]
SERVICES = [("Laboratoire Biogroup", "Site de Castelnau"), ("Assurance Maladie", "")]
DRUGS = ["Périndopril", "Metformine", "Lévothyrox", "Amoxicilline", "Doliprane"]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre"]  # fmt: skip
FILE_KINDS = [("application/pdf", "pdf", 8), ("image/jpeg", "jpg", 3), ("image/png", "png", 1)]


def size_label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


# --- Setup -------------------------------------------------------------------------------------


class Filler:
    """Bulk-inserts realistic documents (and their blob rows, without files) into one space."""

    def __init__(self, user, space, data_key):
        self.user, self.space, self.data_key = user, space, data_key
        self.rng = random.Random(SEED)
        self.count = 0
        self.categories = [c for c, _, _ in TITLES]
        self.weights = [w for _, w, _ in TITLES]
        self.titles = {c: t for c, _, t in TITLES}
        self.now = datetime.now(UTC)
        person = user.person
        self.owner = f"{person.first_name} {person.last_name}"

    def _hex(self, bits: int = 256) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def _title(self, category: str) -> str:
        rng = self.rng
        template = rng.choice(self.titles[category])
        title = template.format(
            doc=rng.choice(PROFESSIONALS)[0],
            drug=rng.choice(DRUGS),
            month=rng.choice(MONTHS),
            year=rng.randint(1995, 2026),
            n=rng.randint(1, 999),
        )
        if rng.random() < 0.3:
            title += f" {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1995, 2026)}"
        return title[:50]

    def add(self, n: int, batch: int = 5000) -> None:
        from django.db import transaction

        from carnet.core.models import Blob
        from carnet.documents.models import Document, sort_key

        rng = self.rng
        with transaction.atomic():
            for start in range(0, n, batch):
                blobs, docs = [], []
                for _ in range(min(batch, n - start)):
                    category = rng.choices(self.categories, self.weights)[0]
                    media_type, extension, _ = rng.choices(
                        FILE_KINDS, [w for _, _, w in FILE_KINDS]
                    )[0]
                    size = rng.randint(20_000, PDF_LIMIT)
                    created = self.now - timedelta(seconds=rng.randint(0, 20 * 365 * 86400))
                    blob = Blob(
                        key=self._hex(),
                        data_key=self.data_key,
                        size=size,
                        sha256=self._hex(),
                        created_at=created,
                    )
                    who = rng.random()
                    if who < 0.45:
                        kind, author, (name, establishment) = "usager", self.user, (self.owner, "")
                    elif who < 0.9:
                        kind, author = "professionnel", None
                        name, establishment = rng.choice(PROFESSIONALS)
                    else:
                        kind, author, (name, establishment) = "service", None, rng.choice(SERVICES)
                    title = self._title(category)
                    deleted = rng.random() < 0.02
                    blobs.append(blob)
                    docs.append(
                        Document(
                            public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                            space=self.space,
                            blob=blob,
                            title=title,
                            title_key=sort_key(title),
                            category=category,
                            document_date=(created - timedelta(days=rng.randint(0, 60))).date(),
                            media_type=media_type,
                            extension=extension,
                            size=size,
                            author=author,
                            author_kind=kind,
                            author_name=name,
                            author_establishment=establishment,
                            author_key=sort_key(name),
                            hidden=rng.random() < 0.05,
                            pinned=rng.random() < 0.005,
                            created_at=created,
                            updated_at=created,
                            deleted_at=created + timedelta(days=1) if deleted else None,
                            deleted_by="usager:banc.documents" if deleted else "",
                        )
                    )
                Blob.objects.bulk_create(blobs, batch_size=2000)
                Document.objects.bulk_create(docs, batch_size=2000)
        self.count += n


# --- Page timings ------------------------------------------------------------------------------

QUERIES = {  # name → GET parameters of /documents/
    "recents": {},
    "nom": {"tri": "nom"},
    "categorie": {"filtre": "BIOLOGIE"},
}


def page_timings(client, space, runs: int, live: int) -> dict:
    """Medians per query of the whole GET, of its database part (count and slice), and of the
    count alone; the queries and the parts take turns run by run, so that a load on the
    machine weighs on all of them alike."""
    from carnet.documents import selectors
    from carnet.documents.models import Category

    probes = {}  # (query, part) → function
    for name, params in QUERIES.items():
        query = selectors.ListQuery.from_params(params)
        assert query.filter in ("", *Category.values)
        rows = selectors.live_documents(space)
        expected = rows.filter(category=query.filter).count() if query.filter else live

        def get(params=params):
            response = client.get("/documents/", params)
            assert response.status_code == 200, response.status_code
            return response

        body = get().content.decode()
        assert f"sur {expected}</p>" in body, f"{name}: count {expected} not on the page"
        assert body.count('class="card document-row"') == min(20, expected), name

        def db(query=query):
            page = selectors.documents_list(space, query).page
            return page.paginator.count

        def count(query=query):
            return selectors.list_counts(space, query)[0]

        probes.update({(name, "page_s"): get, (name, "db_s"): db, (name, "count_s"): count})

    times = {key: [] for key in probes}
    for run in range(WARMUP + runs):
        for key, function in probes.items():
            started = time.perf_counter()
            function()
            if run >= WARMUP:
                times[key].append(time.perf_counter() - started)
    result = {"documents": live}
    for (name, part), values in times.items():
        result.setdefault(name, {})[part] = round(statistics.median(values), 5)
    for name in QUERIES:
        log(f"  {name}: {result[name]}")
    return result


def explain(client) -> None:
    """SQLite's plan for every query on documents that the page runs, on stderr."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for name, params in QUERIES.items():
        with CaptureQueriesContext(connection) as captured:
            client.get("/documents/", params)
        for query in captured.captured_queries:
            if "documents_document" not in query["sql"]:
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
                plan = " | ".join(row[-1] for row in cursor.fetchall())
            log(f"  {name}: {query['sql'][:90]}…\n    plan: {plan}")


# --- Files -------------------------------------------------------------------------------------


def make_pdf(limit: int = PDF_LIMIT) -> bytes:
    """A real PDF just under `limit`: two pages of text and a full-page scan-like image of
    noise (incompressible, as a scan nearly is), built by fpdf2 and checked by pypdf."""
    from fpdf import FPDF
    from PIL import Image
    from pypdf import PdfReader

    rng = random.Random(SEED)
    side = int((limit * 0.97 / 3) ** 0.5)
    while True:
        noise = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        pdf = FPDF(format="A4")
        pdf.set_font("helvetica", size=12)
        pdf.add_page()
        for n in range(40):
            pdf.cell(
                0, 6, f"Compte rendu d'imagerie - ligne {n + 1}", new_x="LMARGIN", new_y="NEXT"
            )
        pdf.add_page()
        pdf.image(noise, x=10, y=10, w=190)
        data = bytes(pdf.output())
        if len(data) <= limit:
            break
        side = int(side * (limit / len(data)) ** 0.5) - 4
    assert len(PdfReader(io.BytesIO(data)).pages) == 2
    return data


def raw_write(directory: Path, data: bytes) -> Path:
    """The same durability as the blob store: temporary file, fsync, rename, fsync the folder."""
    path = directory / f"{os.urandom(16).hex()}"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


class Allocator:
    """glibc's malloc, held still: a 5 MB buffer costs a memory copy, or page faults too,
    depending on whether malloc recycles freed memory or has just given it back to the system,
    which its adaptive thresholds decide from the history of the process. Fixed thresholds make
    it recycle (the "recycled" figures); `fresh()` gives everything back first, so that the next
    call faults its buffers in (the "fresh" figures). Both sides of a comparison get the same."""

    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3

    def __init__(self):
        import ctypes

        try:
            self.libc = ctypes.CDLL(None)
            self.libc.mallopt  # noqa: B018 (glibc only)
            self.libc.malloc_trim  # noqa: B018
        except (OSError, AttributeError):
            self.libc = None

    def fix(self) -> str:
        if self.libc is None:
            return "default"
        self.libc.mallopt(self.M_MMAP_THRESHOLD, 64 << 20)
        self.libc.mallopt(self.M_TRIM_THRESHOLD, 512 << 20)
        return "glibc, fixed thresholds"

    def fresh(self) -> None:
        if self.libc is not None:
            self.libc.malloc_trim(0)


def paired(ours, baseline, runs: int, before=None) -> tuple[float, float]:
    """Medians of `ours` and `baseline`, interleaved run by run (after one warm-up each);
    `before` runs, untimed, before each timed call."""
    ours(), baseline()
    a, b = [], []
    for _ in range(runs):
        for function, times in ((ours, a), (baseline, b)):
            if before is not None:
                before()
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
    return statistics.median(a), statistics.median(b)


def throughput(nbytes: int, ours: float, baseline: float) -> dict:
    return {
        "seconds": round(ours, 5),
        "mb_per_s": round(nbytes / 1e6 / ours, 1),
        "baseline_seconds": round(baseline, 5),
        "baseline_mb_per_s": round(nbytes / 1e6 / baseline, 1),
        "ratio": round(baseline / ours, 3),  # throughput ours / throughput baseline
    }


def file_timings(
    client, space, data_key, data: bytes, runs: int, raw_dir: Path, allocator: Allocator
) -> dict:
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction
    from django.test.client import encode_multipart

    from carnet.core.blobs import blob_put, blob_read
    from carnet.documents.models import Document

    assert settings.BLOB_DIR.parent == raw_dir.parent  # the same file system
    raw_dir.mkdir(parents=True, exist_ok=True)
    size = len(data)
    title = "Scanner thoracique (banc d'essai)"

    def put():
        with transaction.atomic():  # as in document_add
            return blob_put(data_key=data_key, plaintext=data)

    log(f"upload: blob_put vs raw durable write of {size} bytes ({runs} runs)…")
    up, up_raw = paired(put, lambda: raw_write(raw_dir, data), runs)

    blob = put()
    raw_file = raw_write(raw_dir, data)
    assert blob_read(blob) == data

    log(f"download: blob_read vs raw read ({runs} runs)…")
    down, down_raw = paired(lambda: blob_read(blob), raw_file.read_bytes, runs)
    fresh, fresh_raw = paired(
        lambda: blob_read(blob), raw_file.read_bytes, runs, before=allocator.fresh
    )

    # What the reads and writes spend their time on (same bytes, same run).
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead, nonce = AESGCM(AESGCM.generate_key(bit_length=256)), os.urandom(12)
    sealed = aead.encrypt(nonce, data, b"aad")
    parts = {
        name: round(timed(function, runs, WARMUP)[0], 5)
        for name, function in (
            ("sha256_s", lambda: hashlib.sha256(data).hexdigest()),
            ("aes_gcm_encrypt_s", lambda: aead.encrypt(nonce, data, b"aad")),
            ("aes_gcm_decrypt_s", lambda: aead.decrypt(nonce, sealed, b"aad")),
        )
    }

    # The whole requests, through the views (not the target).
    body = encode_multipart(
        BOUNDARY,
        {
            "title": title,
            "category": "RADIO_SC",
            "document_date": (datetime.now(UTC).date() - timedelta(days=3)).isoformat(),
            "file": SimpleUploadedFile("scanner.pdf", data, "application/pdf"),
        },
    )
    content_type = f"multipart/form-data; boundary={BOUNDARY}"

    def http_upload():
        response = client.post("/documents/ajouter/", body, content_type=content_type)
        assert response.status_code == 302, response.content.decode()[:2000]

    log(f"HTTP upload and download ({runs} runs)…")
    http_up, _ = timed(http_upload, runs, warmup=1)
    doc = Document.objects.filter(space=space, title=title).latest("id")
    assert doc.size == size and doc.media_type == "application/pdf"

    def http_download():
        response = client.get(f"/documents/{doc.public_id}/fichier/")
        assert response.status_code == 200, response.status_code
        received = b"".join(response.streaming_content)
        assert len(received) == size

    http_down, _ = timed(http_download, runs, warmup=1)
    return {
        "bytes": size,
        "parts": parts,
        "upload": throughput(size, up, up_raw),
        "download": throughput(size, down, down_raw),
        "download_fresh_memory": throughput(size, fresh, fresh_raw),
        "http_upload": {"seconds": round(http_up, 5), "mb_per_s": round(size / 1e6 / http_up, 1)},
        "http_download": {
            "seconds": round(http_down, 5),
            "mb_per_s": round(size / 1e6 / http_down, 1),
        },
    }


# --- Main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--sizes", default="100,10000,100000", help="documents, increasing")
    parser.add_argument("--runs", type=int, default=15, help="GETs per page and size")
    parser.add_argument("--file-runs", type=int, default=10, help="uploads and downloads")
    parser.add_argument("--explain", action="store_true", help="query plans on stderr")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] < 1:
        parser.error("--sizes: positive numbers, e.g. 100,10000,100000")

    began = time.perf_counter()
    allocator = Allocator()
    malloc = allocator.fix()
    with throwaway_carnet(
        "documents", keep=args.keep, cache_table=True, CARNET_DEMO="1", CARNET_LOG_LEVEL="WARNING"
    ) as tmp:
        from django.db import connection
        from django.test import Client

        from carnet.enrollment.services import space_data_key

        log("activating a space…")
        user, space = synthetic_space("banc.documents", "banc d'essai des documents 2026")
        data_key = space_data_key(space)
        client = Client()
        client.force_login(user)
        filler = Filler(user, space, data_key)

        from carnet.documents.selectors import live_documents

        results = {}
        for size in sizes:
            log(f"filling to {size} documents…")
            started = time.perf_counter()
            filler.add(size - filler.count)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            log(f"  filled in {time.perf_counter() - started:.1f} s; timing pages…")
            if args.explain:
                explain(client)
            live = live_documents(space).count()
            results[str(size)] = page_timings(client, space, args.runs, live)

        first, last = results[str(sizes[0])], results[str(sizes[-1])]
        ratios = {q: round(last[q]["page_s"] / first[q]["page_s"], 2) for q in QUERIES}
        label = f"page_ratio_{size_label(sizes[-1])}_over_{size_label(sizes[0])}"

        log("building a 5 MB PDF…")
        data = make_pdf()
        files = file_timings(
            client, space, data_key, data, args.file_runs, tmp / "var" / "raw", allocator
        )
        result = {
            "sizes": results,
            label: ratios["recents"],
            "page_ratios": ratios,
            "pdf_bytes": files.pop("bytes"),
            "upload": files["upload"],
            "download": files["download"],
            "download_fresh_memory": files["download_fresh_memory"],
            "crypto_parts": files["parts"],
            "http_upload": files["http_upload"],
            "http_download": files["http_download"],
            "targets_met": {
                "page": ratios["recents"] <= PAGE_TARGET,
                "page_every_query": max(ratios.values()) <= PAGE_TARGET,
                "upload": files["upload"]["ratio"] >= THROUGHPUT_TARGET,
                "download": files["download"]["ratio"] >= THROUGHPUT_TARGET,
                "download_fresh_memory": (
                    files["download_fresh_memory"]["ratio"] >= THROUGHPUT_TARGET
                ),
            },
            "malloc": malloc,
            "seconds_total": round(time.perf_counter() - began, 1),
        }
        result_print(result)


if __name__ == "__main__":
    main()
