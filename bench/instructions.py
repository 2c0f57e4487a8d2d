"""Benchmark: the processor instructions of one request of the documents list and of other
pages, against the bare view asked with the same cookies, counted by valgrind in the same run.

    .venv/bin/python bench/instructions.py [--requests K] [--documents D] [--paths P,P…]

Counts instructions (valgrind's callgrind), not seconds: the same code gives the same count
whatever else the machine is doing, where bench/load.py's throughputs move with a shared
machine's speed (2026-11-27: the same loop 1.6 to 2.1 s from one run to the next). A change of
a page's cost shows here at once, to the percent; bench/load.py then says what it gives under
load. What it counts: one request through Django and all our middlewares, in-process (the
test client), on SQLite with the sessions in the database. What it leaves out: gunicorn, the
network, locust, PostgreSQL and Redis — shared by both sides of the ratio, which is therefore
lower here than under load (bench/load.py: list 0.46 of the bare view where this one gives
~0.3).

Sets up a fresh SQLite database in a temporary directory, one synthetic patient with D
documents (tests/scale/populate.py, through the real services), then for each path runs this
script again under `valgrind --tool=callgrind` (about 15 s each): it logs the patient in, asks
the path 20 times untimed, switches counting on (`callgrind_control -i on`), asks it K times,
and switches it off. Needs valgrind (Debian's package).

Prints one JSON line on stdout: millions of instructions per request for each path and the
ratio bare / list (the cost ratio; a throughput ratio is its inverse's). Progress on stderr.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import argument_parser, log, result_print, throwaway_carnet

ROOT = Path(__file__).resolve().parent.parent
BARE = "/healthz"
LIST = "/documents/"
WARMUP = 20


def child(path: str, requests: int) -> None:
    """Under valgrind: the requests, counted between two switches."""
    import django

    django.setup()
    from django.test import Client

    from carnet.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(identifier=os.environ["BENCH_IDENTIFIER"]))
    for _ in range(WARMUP):
        response = client.get(path, secure=True)
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code}")
    switch = ["callgrind_control", "-i"]
    subprocess.run([*switch, "on", str(os.getpid())], check=True, capture_output=True)
    for _ in range(requests):
        client.get(path, secure=True)
    subprocess.run([*switch, "off", str(os.getpid())], check=True, capture_output=True)


def counted(path: str, requests: int, environ: dict, tmp: Path) -> float:
    """Millions of instructions per request of `path`."""
    out = tmp / f"callgrind.{path.strip('/').replace('/', '_') or 'root'}.out"
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        sys.executable, __file__, "--child", path, str(requests),
    ]  # fmt: skip
    subprocess.run(command, env=environ, check=True, capture_output=True)
    totals = next(line for line in out.read_text().splitlines() if line.startswith("totals:"))
    return int(totals.split()[1]) / requests / 1e6


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argument_parser(__doc__)
    parser.add_argument("--requests", type=int, default=20, help="counted requests per path")
    parser.add_argument("--documents", type=int, default=24, help="documents of the patient")
    parser.add_argument("--paths", default="/,/documents/ajouter/", help="other pages")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is needed (Debian: apt install valgrind)")
    paths = [BARE, LIST, *(p for p in args.paths.split(",") if p.strip())]
    with throwaway_carnet("instructions", keep=args.keep, cache_table=True) as tmp:
        sys.path.insert(0, str(ROOT))
        from tests.scale.populate import patients

        log(f"one patient with {args.documents} documents…")
        [made] = patients(1, documents=args.documents)
        environ = {
            **os.environ,
            "BENCH_IDENTIFIER": made["identifier"],
            # This checkout's code first, also when another one is installed in the venv.
            "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("src", "", "bench")),
        }
        work = Path(tempfile.mkdtemp(prefix="callgrind-", dir=tmp))
        per_request = {}
        for path in paths:
            per_request[path] = round(counted(path, args.requests, environ, work), 3)
            log(f"{path}: {per_request[path]} million instructions per request")
    result_print(
        {
            "benchmark": "instructions",
            "settings": {"requests": args.requests, "documents": args.documents},
            "million_instructions_per_request": per_request,
            "bare_over_list": round(per_request[BARE] / per_request[LIST], 3),
            "counted": "in-process (test client), SQLite, sessions in the database",
        }
    )


if __name__ == "__main__":
    main()
