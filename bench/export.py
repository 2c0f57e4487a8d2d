"""Benchmark: « Télécharger mes données » — the export of a space holding N MB of documents, built
in a child process whose peak memory is measured, against a baseline child that only sets Django
up and reads one document, and a raw copy of the same files, in the same run.

    .venv/bin/python bench/export.py [--megabytes 256] [--document-mb 4.5]

Sets up a fresh SQLite database and blob directory in a temporary directory, activates one
synthetic person's space through the enrollment services and adds N MB of documents of
`--document-mb` each (random bytes, so that nothing compresses; stored through `document_add`:
encrypted, durable, one row each). The export is asked through `export_request`, then:

- baseline child: `django.setup()` and the modules an export uses imported (the FHIR models,
  fpdf2, icalendar, the URL map: what a worker holds after its first export), then one
  document read (`blob_read`: decrypt and verify); its peak resident memory (VmHWM) is what a
  worker costs before it exports anything;
- build child: the same set-up, then `export_build` (the worker task's body: every document
  decrypted one at a time into the ZIP stream, sealed in 1 MiB chunks, written to the store);
  its peak memory and wall time (the one-time imports before, reported apart);
- download child: the download's service (`export_download`, audit included), the whole ZIP
  read back decrypted and checked, its SHA-256 compared with the row's; peak memory and time;
- raw copy (this process): the documents' stored files read and written into one file with
  the same durability (write, flush, fsync), the floor of any export's throughput on this disk.

Targets: the build's peak stays within 64 MiB of the baseline's, whatever N (memory bounded by
one document and one chunk, not by the export); its throughput is at least 10 % of the raw
copy's — every byte is read, decrypted, checked (GCM tag and SHA-256), CRC'd into the ZIP, hashed
again and re-encrypted, on one core, where the copy only moves bytes through the page cache.
Prints one JSON line on stdout; progress goes to stderr.
"""

import hashlib
import json
import os
import resource
import subprocess
import sys
import time

from _common import argument_parser, log, result_print, synthetic_space, throwaway_carnet

MIB = 1024 * 1024
PEAK_MARGIN_MB = 64  # build peak - baseline peak, at most
THROUGHPUT_TARGET = 0.10  # build MB/s / raw copy MB/s, at least (see the docstring)


def _peak_mb() -> float:
    """This process's peak resident memory. Linux keeps `ru_maxrss` across execve (a child
    would report its parent's peak): VmHWM, reset with the new image, is read instead."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _warm_up() -> None:
    """What a worker has loaded after its first export (the FHIR models, fpdf2, icalendar, the
    URL map for the email's link): loaded before the measure, in every child alike, so that
    the peaks compare the work and the times do not count one-time imports."""
    import zipstream  # noqa: F401
    from django.urls import reverse

    import carnet.agenda.ical  # noqa: F401
    import carnet.exports.services  # noqa: F401
    import carnet.fhir.mappers  # noqa: F401
    import carnet.profile.pdf  # noqa: F401

    reverse("exports:index")


def _child(kind: str, arg: str) -> None:
    """Run in a child process (environment set by the parent): print one JSON line."""
    import django

    django.setup()
    warm = time.perf_counter()
    _warm_up()
    started = time.perf_counter()
    out: dict = {"warm_up_s": started - warm}
    if kind == "baseline":
        from carnet.core.blobs import blob_read
        from carnet.documents.models import Document

        doc = Document.objects.select_related("blob__data_key").get(pk=int(arg))
        out["bytes"] = len(blob_read(doc.blob))
    elif kind == "build":
        from carnet.exports.services import export_build

        out["result"] = export_build(int(arg))
    elif kind == "download":
        from carnet.exports.models import Export
        from carnet.exports.services import export_download

        export = Export.objects.select_related("user", "blob", "data_key").get(pk=int(arg))
        digest, size = hashlib.sha256(), 0
        for chunk in export_download(user=export.user, export=export, client="127.0.0.1"):
            digest.update(chunk)
            size += len(chunk)
        out.update(bytes=size, verified=digest.hexdigest() == export.blob.sha256)
    out.update(seconds=time.perf_counter() - started, peak_mb=_peak_mb())
    print(json.dumps(out), flush=True)


def _run_child(kind: str, arg) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--child", kind, str(arg)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    if done.stderr.strip():
        print(done.stderr.strip()[-2000:], file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _add_documents(user, space, megabytes: float, document_mb: float) -> list:
    from datetime import date

    from carnet.documents.files import CheckedFile
    from carnet.documents.services import document_add

    size = int(document_mb * MIB)
    total = int(megabytes * MIB)
    docs = []
    while sum(d.size for d in docs) < total:
        n = len(docs) + 1
        data = os.urandom(min(size, total - sum(d.size for d in docs)))
        checked = CheckedFile(
            data=data, media_type="application/pdf", extension="pdf", suggested_title=""
        )
        docs.append(
            document_add(
                user=user,
                space=space,
                checked=checked,
                title=f"Compte rendu {n}",
                category="CPT_REND",
                document_date=date(2026, 1 + n % 12, 1 + n % 28),
            )
        )
        if n % 20 == 0:
            log(f"  {n} documents, {sum(d.size for d in docs) / MIB:.0f} MB")
    return docs


def _raw_copy(docs, target) -> float:
    """Seconds to read every stored file and write them into one synced file."""
    from carnet.core.stores import blob_store

    store = blob_store()
    started = time.perf_counter()
    with open(target, "wb") as out:
        for doc in docs:
            for chunk in store.read_stream(doc.blob_id, MIB):
                out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    seconds = time.perf_counter() - started
    os.unlink(target)
    return seconds


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--megabytes", type=float, default=256, help="documents, in MiB")
    parser.add_argument("--document-mb", type=float, default=4.5, help="each document, in MiB")
    args = parser.parse_args()
    if args.megabytes <= 0 or not 0 < args.document_mb <= 4.7:
        parser.error("--megabytes > 0, and 0 < --document-mb <= 4.7 (DOCUMENT_MAX_BYTES)")

    with throwaway_carnet(
        "export",
        keep=args.keep,
        CARNET_LOG_LEVEL="WARNING",
        # The build runs in the child, not through a queue.
        CARNET_TASKS_BACKEND="django_tasks.backends.dummy.DummyBackend",
    ) as tmp:
        from carnet.exports.models import Export
        from carnet.exports.services import export_request

        log("activating a space…")
        user, space = synthetic_space("banc.export", "banc d'essai de l'export 2026")
        log(f"adding {args.megabytes:.0f} MB of documents…")
        started = time.perf_counter()
        docs = _add_documents(user, space, args.megabytes, args.document_mb)
        total = sum(d.size for d in docs)
        log(f"  {len(docs)} documents in {time.perf_counter() - started:.1f} s")

        log("raw copy of the stored files…")
        raw_s = _raw_copy(docs, tmp / "raw-copy")
        log("baseline child (Django set up, one document read)…")
        baseline = _run_child("baseline", docs[0].pk)
        export = export_request(user=user, spaces=[space], client="127.0.0.1")
        log("build child…")
        build = _run_child("build", export.pk)
        export = Export.objects.select_related("blob").get(pk=export.pk)
        if build["result"] != "prete" or export.status != Export.Status.READY:
            raise SystemExit(f"export not built: {build}")
        log("download child…")
        fetched = _run_child("download", export.pk)

    zip_mb = export.blob.size / MIB
    total_mb = total / MIB
    over = build["peak_mb"] - baseline["peak_mb"]
    throughput = zip_mb / build["seconds"]
    raw_throughput = total_mb / raw_s
    result_print(
        {
            "megabytes": round(total_mb, 1),
            "documents": len(docs),
            "zip_mb": round(zip_mb, 1),
            "baseline_peak_mb": round(baseline["peak_mb"], 1),
            "export_peak_mb": round(build["peak_mb"], 1),
            "export_peak_over_baseline_mb": round(over, 1),
            "ratio_peak_total": round(build["peak_mb"] / total_mb, 4),
            "build_s": round(build["seconds"], 2),
            "imports_s": round(build["warm_up_s"], 2),
            "throughput_mb_s": round(throughput, 1),
            "raw_copy_mb_s": round(raw_throughput, 1),
            "ratio_throughput_raw": round(throughput / raw_throughput, 2),
            "download_peak_mb": round(fetched["peak_mb"], 1),
            "download_s": round(fetched["seconds"], 2),
            "download_mb_s": round(zip_mb / fetched["seconds"], 1),
            "download_verified": fetched["verified"] and fetched["bytes"] == export.blob.size,
            "target_peak_over_baseline_mb": PEAK_MARGIN_MB,
            "target_throughput_ratio": THROUGHPUT_TARGET,
            "target_met": over <= PEAK_MARGIN_MB
            and throughput / raw_throughput >= THROUGHPUT_TARGET,
        }
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        main()
