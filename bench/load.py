"""Benchmark: a realistic mix of patients and professionals played with locust against a
production-like Carnet (PostgreSQL, Redis, S3, a mail relay; `carnet serve`, `carnet worker`,
`carnet smtpd`), against a bare Django view on the same server measured in the same run.

    .venv/bin/python bench/load.py [--workers W] [--ratio-users U] [--steps 2,4,8,16]
                                   [--duration S] [--patients N] [--documents D] …

About 5 minutes with the defaults (setup included). What runs (tests/scale/stack.py,
everything on 127.0.0.1): the stack, one web node (`carnet serve`, W gunicorn workers: 2 by
default — on 2 cores, 3 gave the same throughput within the noise, slightly less on the list),
the worker and the SMTP gateway. The data are made through the real services on an operator's
node (`Stack.python`, `populate_print` below): N patients with D documents each
(tests/scale/populate.py), a pool of patients who only log in, professionals (password + TOTP
device, a FINESS, a messaging address, an SMTP gateway password, an authorisation on every
browsing patient's space) and their establishment's software (client credentials,
`system/DocumentReference.c`). Then, from this process: the browsing patients and the
professionals log in through the real login pages (the patients' one-time codes read from the
mail relay, the professionals' computed from their TOTP key), and the software gets its token
at `/oauth/token/`. Their cookies and token go to locust in a JSON file (mode 0600).

Locust (bench/locustfile.py) runs headless in a subprocess for each phase, with virtual users
that do not think (each one is a closed loop, many real people's worth of traffic), after a
short warm-up that is not counted:

1. bare: `GET /healthz`, a view that does nothing (no database, cache or template of its
   own) but goes through our whole middleware stack, gunicorn and its access log — the bare
   Django view — asked by the same logged-in patients as the list, with their cookies: the
   middlewares then read the session in Redis and the account in PostgreSQL, as for any page
   of a logged-in person; and, reported beside, the same view asked without cookie, as a
   load balancer does (no session, no database);
2. list: logged-in patients on `GET /documents/` (D documents each, first page of 20),
   with the same number of users U as (1): the ratio of the throughputs. The target's is
   against the bare view asked with the same cookies — the same requests but for the view,
   so the ratio measures what the list's view costs; against the cookie-less view the
   ratio also counts the session and account every logged-in page pays (reported too).
   The bare view with cookies and the list alternate in --ratio-rounds rounds (each phase
   --ratio-seconds / rounds): a shared machine whose speed drifts during the run (a busy
   neighbour) moves both sides of a round alike; the target is the median round's ratio,
   and every round is in the JSON;
3. peak: the realistic mix (below) at increasing user counts (--steps); the peak is the first
   count whose throughput is within 10 % of the best one (the steps' noise): past it, adding
   users adds waiting;
4. mix: the realistic mix at that count for --duration seconds: per-endpoint throughput,
   p50/p95/p99 and failures, the aggregate of the page views (HTML pages fetched by GET).

The mix (weights in bench/locustfile.py): patients already logged in browse the home page, the
documents list, a document's page and its file, and now and then upload a small PDF (form,
CSRF token, multipart, then the page it redirects to); a few log in (password, channel, code
read from the relay through a loopback endpoint of this process: the wait for the mail is
reported apart); professionals add a document through the portal (form, upload, the patient's
page it redirects to), their software posts FHIR `DocumentReference`s, and they send messages
with a PDF through the SMTP gateway (STARTTLS, AUTH, one connection per virtual user).

Each phase also says where the machine's CPU went (`CpuMeter`): the web node, locust, each
other process of the stack, and "others" — another job sharing the machine. Above about 0.2
cores of "others", the figures are pessimistic: run again on a quiet machine.

Targets (issue: load): zero failures; p95 of page views under 150 ms at the measured peak;
documents-list throughput at least 40 % of the bare view's (asked with the same cookies).
Prints one JSON line on stdout (progress on stderr); everything is stopped and the database
dropped at the end.
"""

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from _common import argument_parser, log, result_print

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LOCUSTFILE = BENCH / "locustfile.py"

PRO_PASSWORD = "banc-de-charge-professionnel-2026"  # noqa: S105 (synthetic accounts)
FINESS = "750000001"
PRO_DOMAIN = "medecin.mssante.exemple.fr"
SOFTWARE_SCOPE = "system/DocumentReference.c"
UPLOAD_PDF_BYTES = 20_000  # the PDFs uploaded, posted and mailed: a short report, not a scan

P95_PAGE_VIEW_TARGET_MS = 150
LIST_OVER_BARE_TARGET = 0.40
# A step within 10 % of the best throughput counts as the plateau. Steps on the plateau differ
# by 5-8 % from noise alone (2026-11-27: 93-104 requests/s from 4 to 16 users); at 5 %, one
# run in three took 16 users for 4 % more, where a closed loop of 16 users at ~100 requests/s
# waits 160 ms on average by Little's law: the queue's latency, not the service's.
PEAK_TOLERANCE = 0.10
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
CODE_SUBJECT = "Votre code d'accès"
SETUP_MARK = "LOAD-SETUP "


# --- Setup on an operator's node (run by `Stack.python`, Django set up there) -----------------


def populate_print(part: str, patients: int, documents: int, logins: int, pros: int) -> None:
    """One part of the data, printed as one JSON line after SETUP_MARK: "patients" (`patients`
    patients with `documents` documents each, `logins` patients who only log in), then
    "professionals" (the professionals and their software)."""
    from tests.scale.populate import patients as make_patients

    if part == "patients":
        made = make_patients(patients, documents=documents, prefix="usager")
        result = {
            "patients": [_browsing(p) for p in made],
            "logins": make_patients(logins, prefix="connexion"),
        }
    else:
        result = _professionals(pros)
    print(SETUP_MARK + json.dumps(result))


def _browsing(made: dict) -> dict:
    from carnet.accounts.models import User
    from carnet.documents.models import Document
    from carnet.enrollment.selectors import own_space
    from carnet.messaging.services import patient_address

    space = own_space(User.objects.get(identifier=made["identifier"]))
    documents = Document.objects.filter(space=space, deleted_at__isnull=True)
    return {
        **made,
        "space": str(space.public_id),
        "nir": space.person.nir,
        "address": patient_address(space),
        "documents": [str(d) for d in documents.values_list("public_id", flat=True)],
    }


def _professionals(count: int) -> dict:
    """`count` médecins of the establishment FINESS, each with a password, a confirmed TOTP
    device, an SMTP gateway password and an authorisation on every browsing space; and the
    establishment's software, referenced by an operator."""
    import secrets

    from django.contrib.auth.hashers import make_password
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from carnet.accounts.models import User
    from carnet.catalogue.models import App
    from carnet.catalogue.services import app_register
    from carnet.consent.models import Authorisation
    from carnet.core import clock
    from carnet.core.validators import rpps_key
    from carnet.enrollment.models import Space
    from carnet.messaging.gateway_services import credential_create
    from carnet.professionals.models import Professional

    now = clock.now()
    hashed = make_password(PRO_PASSWORD)  # one Argon2 hash for all: setup time
    spaces = list(
        Space.objects.filter(state=Space.State.ACTIVE, person__email__startswith="usager.")
    )
    result = []
    for n in range(1, count + 1):
        first10 = f"10{n:08d}"
        account = User.objects.create_user(
            f"banc.charge.pro.{n:03d}", None, kind=User.Kind.PROFESSIONAL
        )
        account.password = hashed
        account.save(update_fields=["password"])
        key = secrets.token_hex(20)
        TOTPDevice.objects.create(user=account, name="Application", key=key, confirmed=True)
        pro = Professional.objects.create(
            rpps=f"{first10}{rpps_key(first10)}",
            last_name=f"FICTIF{n}",
            first_name="Claire",
            profession="medecin",
            specialty="Médecine générale",
            finess=FINESS,
            establishment="Hôpital fictif du banc d'essai",
            user=account,
            messaging_address=f"claire.fictif{n}@{PRO_DOMAIN}",
            imported_at=now,
            updated_at=now,
        )
        Authorisation.objects.bulk_create(
            [Authorisation(space=s, professional=pro, attested_at=now) for s in spaces]
        )
        result.append(
            {
                "identifier": account.identifier,
                "password": PRO_PASSWORD,
                "totp_key": key,
                "rpps": pro.rpps,
                "address": pro.messaging_address,
                "smtp_secret": credential_create(pro),
            }
        )
    operator = User.objects.create_user("banc.charge.operateur", None, kind=User.Kind.OPERATOR)
    app, secret = app_register(
        operator=operator,
        name="Logiciel de l'hôpital (banc d'essai)",
        editor="Éditeur fictif",
        description="Dossier patient informatisé d'un établissement (fictif, banc de charge).",
        category=App.Category.PRO_SOFTWARE,
        allowed_scopes=[SOFTWARE_SCOPE],
        software_finess=FINESS,
        status=App.Status.ONLINE,
    )
    return {"pros": result, "software": {"client_id": app.client_id, "client_secret": secret}}


def populate(stack, patients: int, documents: int, logins: int, pros: int) -> dict:
    """The patients, then the professionals (authorised on every patient's space). One
    operator process at a time: populate.py numbers its persons from what the database holds."""

    def run(part: str) -> dict:
        code = (
            f"import sys; sys.path.insert(0, {str(BENCH)!r}); import load; "
            f"load.populate_print({part!r}, {patients}, {documents}, {logins}, {pros})"
        )
        out = stack.python(code, timeout=900)
        line = next(x for x in out.splitlines() if x.startswith(SETUP_MARK))
        return json.loads(line[len(SETUP_MARK) :])

    return {**run("patients"), **run("professionals")}


# --- The mail relay's codes, for locust (another process): a loopback endpoint ----------------


class CodeServer:
    """GET /count?to=ADDRESS → {"count": n}: the mails the relay received for ADDRESS;
    GET /code?to=ADDRESS&after=N → {"code": "123456"}: the login code of the first code mail
    after the N first (waits for it, 30 s at most; 504 then)."""

    def __init__(self, stack):
        self.stack = stack
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/count":
                    status, body = 200, {"count": len(owner.mails(query["to"]))}
                elif url.path == "/code":
                    code = owner.code(query["to"], int(query["after"]))
                    status, body = (200, {"code": code}) if code else (504, {})
                else:
                    status, body = 404, {}
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # locust stopped while its user waited for a code

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def mails(self, address: str) -> list[str]:
        return [m["data"] for m in list(self.stack.mail.messages) if address in m["to"]]

    def code(self, address: str, after: int, timeout: float = 30) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for data in self.mails(address)[after:]:
                # The relay keeps text decoded from UTF-8: parsed again from bytes (8bit body).
                message = message_from_bytes(data.encode(), policy=policy.default)
                if message["Subject"] != CODE_SUBJECT:
                    continue  # another notification
                found = CODE.search(message.get_content())
                if found:
                    return found.group(1)
            time.sleep(0.05)
        return None

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- Logging in before the run: the browsing patients, the professionals ----------------------


def totp_now(key_hex: str, step: int = 30, digits: int = 6) -> str:
    """The code an authenticator app shows now (RFC 6238, HMAC-SHA1: django-otp's defaults)."""
    import hashlib
    import hmac
    import struct

    counter = struct.pack(">Q", int(time.time()) // step)
    digest = hmac.new(bytes.fromhex(key_hex), counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**digits:0{digits}d}"


def patient_cookies(codes: "CodeServer", base: str, patient: dict) -> dict:
    """Log a patient in as `Visitor.log_in` does, the code read by `CodeServer.code`: it skips
    the mails of the activation that the worker may still be delivering."""
    from tests.scale.stack import Visitor

    visitor = Visitor()
    who = patient["identifier"]
    step = visitor.post(f"{base}/connexion/", {"identifier": who, "password": patient["password"]})
    if step.headers.get("Location") != "/connexion/mode/":
        raise RuntimeError(f"{who} : mot de passe refusé ({step.status_code})")
    before = len(codes.mails(patient["email"]))
    if visitor.post(f"{base}/connexion/mode/", {"channel": "email"}).status_code != 302:
        raise RuntimeError(f"{who} : canal refusé")
    code = codes.code(patient["email"], before)
    if code is None:
        raise RuntimeError(f"{who} : aucun code reçu")
    if visitor.post(f"{base}/connexion/code/", {"code": code}).status_code != 302:
        raise RuntimeError(f"{who} : code refusé")
    home = visitor.get(f"{base}/")
    if home.status_code != 200 or "Bonjour" not in home.text:
        raise RuntimeError(f"{patient['identifier']} : accueil inattendu ({home.status_code})")
    return visitor.session.cookies.get_dict()


def pro_cookies(base: str, pro: dict) -> dict:
    from tests.scale.stack import Visitor

    visitor = Visitor()
    step = visitor.post(
        f"{base}/pro/connexion/", {"identifier": pro["identifier"], "password": pro["password"]}
    )
    if step.headers.get("Location") != "/pro/connexion/mode/":
        raise RuntimeError(f"{pro['identifier']} : mot de passe refusé ({step.status_code})")
    if visitor.get(f"{base}/pro/connexion/mode/").headers.get("Location") != "/pro/connexion/code/":
        raise RuntimeError(f"{pro['identifier']} : pas d'étape TOTP")
    done = visitor.post(f"{base}/pro/connexion/code/", {"code": totp_now(pro["totp_key"])})
    if done.headers.get("Location") != "/pro/":
        raise RuntimeError(f"{pro['identifier']} : code TOTP refusé ({done.status_code})")
    return visitor.session.cookies.get_dict()


def software_token(base: str, software: dict) -> str:
    import requests

    session = requests.Session()
    session.trust_env = False  # loopback only
    answer = session.post(
        f"{base}/oauth/token/",
        data={"grant_type": "client_credentials", "scope": SOFTWARE_SCOPE},
        auth=(software["client_id"], software["client_secret"]),
        timeout=60,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def upload_pdf() -> bytes:
    from messaging import attachment_pdf  # bench/messaging.py: a real PDF of pages of text

    return attachment_pdf(UPLOAD_PDF_BYTES)


# --- Running locust, reading its figures -------------------------------------------------------


class CpuMeter:
    """Where the machine's CPU went during a phase, in cores (1.0 = one core busy all along):
    locust, the web node (gunicorn and its file checkers), the rest of our stack by process
    (worker, SMTP gateway, S3 server, Redis, the PostgreSQL backends of our database, this
    process), and "others": everything else — another job on the machine (contention), the
    kernel's work outside any process, processes started and ended between two samples."""

    GROUPS = (  # (group, a word of the command line), first match wins
        ("s3", "moto.server"),
        ("redis", "redis-server"),
        ("worker", " worker"),
        ("smtpd", " smtpd"),
    )

    def __init__(self, locust_pid: int, web_pid: int, database: str):
        import psutil

        self.psutil = psutil
        self.locust_pid, self.web_pid, self.database = locust_pid, web_pid, database
        self.started = time.monotonic()
        self.machine = self._busy()
        self.first: dict[int, float] = {}  # CPU seconds of each of our processes at the start
        self.last: dict[int, float] = {}
        self.group: dict[int, str] = {}
        self.sample(initial=True)

    def _busy(self) -> float:
        times = self.psutil.cpu_times()
        return times.user + times.nice + times.system + getattr(times, "steal", 0.0)

    def _ours(self):
        me = self.psutil.Process()
        processes = [me, *me.children(recursive=True)]
        for process in self.psutil.process_iter(["name", "cmdline"]):
            name, cmdline = process.info["name"] or "", process.info["cmdline"] or []
            if name.startswith("postgres") and self.database in " ".join(cmdline):
                processes.append(process)
        return processes

    def _group_of(self, process) -> str:
        """The group of the process or of its nearest ancestor that has one (a file checker
        belongs to the web node or the gateway that started it)."""
        for one in (process, *process.parents()):
            if one.pid == self.locust_pid:
                return "locust"
            if one.pid == self.web_pid:
                return "web"
            command = " ".join(one.cmdline())
            if command.startswith("postgres"):
                return "postgres"
            for group, word in self.GROUPS:
                if word in command:
                    return group
        return "bench"

    def sample(self, initial: bool = False) -> None:
        for process in self._ours():
            try:
                times = process.cpu_times()
                if process.pid not in self.group:
                    self.group[process.pid] = self._group_of(process)
            except self.psutil.Error:
                continue  # ended meanwhile
            seconds = times.user + times.system
            if initial:
                self.first[process.pid] = seconds
            self.last[process.pid] = seconds

    def result(self) -> dict:
        wall = time.monotonic() - self.started
        cores: dict[str, float] = {}
        for pid, last in self.last.items():
            group = self.group[pid]
            cores[group] = cores.get(group, 0.0) + (last - self.first.get(pid, 0.0)) / wall
        machine = (self._busy() - self.machine) / wall
        ours = sum(cores.values())
        return {
            "machine_busy_percent": round(100 * machine / (os.cpu_count() or 1), 1),
            **{
                f"{group}_cores": round(cores.get(group, 0.0), 2)
                for group in ("web", "locust", "postgres", "s3", "worker", "smtpd", "redis")
            },
            "bench_cores": round(cores.get("bench", 0.0), 2),
            "others_cores": round(max(0.0, machine - ours), 2),
        }


def run_locust(
    name: str,
    *,
    root: Path,
    base: str,
    config: Path,
    user_class: str,
    users: int,
    warmup: float,
    measure: float,
    web_pid: int,
    database: str,
    login_uses: dict,
) -> dict:
    """One headless locust run of `user_class`; returns its measured window's figures.
    `login_uses` (logins made per login-pool patient) is handed over and updated."""
    result_file = root / f"locust-{name}.json"
    log_file = root / f"locust-{name}.log"
    uses_file = root / f"login-uses-{name}.json"
    uses_file.write_text(json.dumps(login_uses))
    env = {
        **os.environ,
        "LOAD_CONFIG": str(config),
        "LOAD_LOGIN_USES": str(uses_file),
        "LOAD_RESULT": str(result_file),
        "LOAD_WARMUP": str(warmup),
        "LOAD_MEASURE": str(measure),
    }
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(variable, None)  # loopback only
    argv = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(max(users * 10, 10)),
        "--run-time",
        f"{math.ceil(warmup + measure + 10)}s",  # a bound: the locustfile stops it at the end
        "--stop-timeout",
        "5",
        "--host",
        base,
        "--only-summary",
        "--loglevel",
        "WARNING",
        user_class,
    ]
    with log_file.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (our own command)
            argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        meter = CpuMeter(process.pid, web_pid, database)
        deadline = time.monotonic() + warmup + measure + 60
        try:
            while process.poll() is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"locust ({name}) ne s'est pas arrêté à temps")
                meter.sample()
                time.sleep(0.5)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
    if not result_file.exists():
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"locust ({name}) n'a rien mesuré :\n{tail}")
    result = json.loads(result_file.read_text())
    login_uses.update(result["login_uses"])
    result["cpu"] = meter.result()
    result["client_saturated"] = "CPU usage above 90%" in log_file.read_text(errors="replace")
    return result


def percentile(histogram: dict, fraction: float) -> float | None:
    """Nearest-rank percentile of locust's histogram {milliseconds (rounded): count}."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = math.ceil(fraction * total)
    seen = 0
    for value in sorted(histogram, key=float):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return None


def figures(entries: list[dict], seconds: float) -> dict:
    """Requests, failures, rps and percentiles of entries taken together."""
    histogram: dict[str, int] = {}
    for entry in entries:
        for value, count in entry["response_times"].items():
            histogram[value] = histogram.get(value, 0) + count
    requests = sum(e["num_requests"] for e in entries)
    return {
        "requests": requests,
        "failures": sum(e["num_failures"] for e in entries),
        "rps": round(requests / seconds, 1) if seconds else 0,
        "p50_ms": percentile(histogram, 0.50),
        "p95_ms": percentile(histogram, 0.95),
        "p99_ms": percentile(histogram, 0.99),
    }


def summary(run: dict, *, detail: bool = False) -> dict:
    """The figures of one locust run: all requests, the page views, each endpoint if `detail`
    (custom entries — the SMTP messages, the waits for a mail, whole logins — apart from the
    HTTP requests' total)."""
    seconds = run["seconds"]
    http = [e for e in run["entries"] if e["method"] in ("GET", "POST")]
    pages = [e for e in http if e["name"] in run["page_views"]]
    result = {
        "users": run["users"],
        "seconds": round(seconds, 1),
        "http": figures(http, seconds),
        "page_views": figures(pages, seconds),
        "failures_in_window": sum(e["num_failures"] for e in run["entries"]),
        "failures_all": run["failures_all"],
        "cpu": run["cpu"],
        "client_saturated": run["client_saturated"],
    }
    if detail:
        result["endpoints"] = {
            f"{e['method']} {e['name']}": figures([e], seconds)
            for e in sorted(run["entries"], key=lambda e: (e["name"], e["method"]))
        }
        result["errors"] = run["errors"][:10]
        result["logins_skipped"] = run.get("logins_skipped", 0)
    return result


# --- Main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the web node")
    parser.add_argument("--patients", type=int, default=48, help="browsing patients")
    parser.add_argument("--documents", type=int, default=24, help="documents of each")
    parser.add_argument("--logins", type=int, default=120, help="patients who only log in")
    parser.add_argument("--pros", type=int, default=4, help="professionals")
    parser.add_argument("--ratio-users", type=int, default=8, help="users of phases 1 and 2")
    parser.add_argument("--ratio-seconds", type=float, default=20, help="measured, each")
    parser.add_argument(
        "--ratio-rounds", type=int, default=5, help="alternations of bare view and list (odd)"
    )
    parser.add_argument("--steps", default="2,4,8,16", help="user counts of the peak search")
    parser.add_argument("--step-seconds", type=float, default=15, help="measured, each step")
    parser.add_argument("--users", type=int, default=0, help="mix users (0: the peak found)")
    parser.add_argument("--duration", type=float, default=60, help="mix, measured seconds")
    parser.add_argument("--warmup", type=float, default=5, help="uncounted seconds per run")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=None,
        help="CARNET_DB_CONN_MAX_AGE of the nodes (default: the settings'; 0: a new database "
        "connection per request, as before persistent connections)",
    )
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",") if s.strip()]

    from tests.scale.stack import production_stack

    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="carnet-bench-load-"))
    try:
        with production_stack(root / "stack") as stack, ExitStack() as cleanup:
            log(f"stack up ({time.monotonic() - began:.0f} s); web node, worker, gateway…")
            if args.conn_max_age is not None:
                stack.env["CARNET_DB_CONN_MAX_AGE"] = str(args.conn_max_age)
            base = stack.web("web", workers=args.workers)
            stack.worker()
            smtp_port = stack.smtpd()
            web_pid = stack.processes["web"].popen.pid
            codes = CodeServer(stack)
            cleanup.callback(codes.stop)

            log(
                f"populating: {args.patients} patients × {args.documents} documents, "
                f"{args.logins} login-only patients, {args.pros} professionals…"
            )
            started = time.monotonic()
            made = populate(stack, args.patients, args.documents, args.logins, args.pros)
            setup_seconds = {"populate": round(time.monotonic() - started, 1)}

            log("logging the browsing patients and the professionals in…")
            started = time.monotonic()
            with ThreadPoolExecutor(4) as pool:
                cookies = list(
                    pool.map(lambda p: patient_cookies(codes, base, p), made["patients"])
                )
            for patient, jar in zip(made["patients"], cookies, strict=True):
                patient["cookies"] = jar
            for pro in made["pros"]:
                pro["cookies"] = pro_cookies(base, pro)
            token = software_token(base, made["software"])
            setup_seconds["logins"] = round(time.monotonic() - started, 1)

            pdf = root / "document.pdf"
            pdf.write_bytes(upload_pdf())
            config = root / "load-config.json"
            config.touch(mode=0o600)
            config.write_text(
                json.dumps(
                    {
                        "patients": made["patients"],
                        "logins": made["logins"],
                        "pros": made["pros"],
                        "fhir_token": token,
                        "smtp_port": smtp_port,
                        "codes_url": codes.url,
                        "pdf": str(pdf),
                    }
                )
            )

            login_uses: dict[str, int] = {}
            ran: dict[str, dict] = {}  # each phase's run, by name

            def phase(name, user_class, users, measure):
                log(f"{name}: {user_class}, {users} users, {args.warmup:g} + {measure:g} s…")
                run = run_locust(
                    name,
                    root=root,
                    base=base,
                    config=config,
                    user_class=user_class,
                    users=users,
                    warmup=args.warmup,
                    measure=measure,
                    web_pid=web_pid,
                    database=stack.database,
                    login_uses=login_uses,
                )
                ran[name] = run
                figures_now = summary(run)
                log(
                    f"  {figures_now['http']['rps']} req/s, p95 "
                    f"{figures_now['http']['p95_ms']} ms, failures {run['failures_all']}, "
                    f"cpu {run['cpu']}"
                )
                return run

            bare = phase("bare", "BareUser", args.ratio_users, args.ratio_seconds)
            # The same cookies' bare view and the list, alternated: each round's two phases
            # run seconds apart, on the same machine's speed.
            rounds = []
            for n in range(1, args.ratio_rounds + 1):
                each = args.ratio_seconds / args.ratio_rounds
                with_cookies = phase(f"bare-session-{n}", "BareSessionUser", args.ratio_users, each)
                listed = phase(f"list-{n}", "ListUser", args.ratio_users, each)
                bare_rps_n = summary(with_cookies)["http"]["rps"]
                ratio_n = summary(listed)["http"]["rps"] / bare_rps_n if bare_rps_n else 0.0
                rounds.append((ratio_n, with_cookies, listed))
            rounds_by_ratio = sorted(rounds, key=lambda r: r[0])
            _, bare_session, listing = rounds_by_ratio[len(rounds) // 2]  # the median round
            search = []
            if not args.users:
                for users in steps:
                    search.append(phase(f"step-{users}", "MixUser", users, args.step_seconds))
                best = max(summary(s)["http"]["rps"] for s in search)
                peak_users = next(
                    s["users"]
                    for s in search
                    if summary(s)["http"]["rps"] >= (1 - PEAK_TOLERANCE) * best
                )
            else:
                peak_users = args.users
            mix = phase("mix", "MixUser", peak_users, args.duration)

            bare_figures = summary(bare, detail=True)
            bare_session_figures = summary(bare_session, detail=True)
            list_figures = summary(listing, detail=True)
            mix_figures = summary(mix, detail=True)
            bare_rps = bare_figures["http"]["rps"]
            list_rps = list_figures["http"]["rps"]
            bare_logged_in_rps = bare_session_figures["http"]["rps"]
            ratio = list_rps / bare_logged_in_rps if bare_logged_in_rps else 0.0
            runs = [bare, *(run for r in rounds for run in r[1:]), *search, mix]
            failures_total = sum(r["failures_all"] for r in runs)
            p95_pages = mix_figures["page_views"]["p95_ms"]
            result = {
                "benchmark": "load",
                "settings": {
                    "web_workers": args.workers,
                    "db_conn_max_age": args.conn_max_age,
                    "cores": os.cpu_count(),
                    "ratio_users": args.ratio_users,
                    "ratio_seconds": args.ratio_seconds,
                    "ratio_rounds": args.ratio_rounds,
                    "steps": steps,
                    "step_seconds": args.step_seconds,
                    "mix_users": peak_users,
                    "mix_seconds": args.duration,
                    "warmup_seconds": args.warmup,
                    "patients": args.patients,
                    "documents_per_patient": args.documents,
                    "login_pool": args.logins,
                    "professionals": args.pros,
                },
                "bare_view": {
                    "endpoint": "GET /healthz",
                    **bare_figures["http"],
                    "cpu": bare_figures["cpu"],
                },
                "bare_view_logged_in": {
                    "endpoint": "GET /healthz (cookies of a logged-in patient)",
                    **bare_session_figures["http"],
                    "cpu": bare_session_figures["cpu"],
                },
                "documents_list": {
                    "endpoint": "GET /documents/",
                    **list_figures["http"],
                    "cpu": list_figures["cpu"],
                },
                # The target's ratio: against the bare view asked with the same cookies, in
                # the median round (the two figures above are that round's).
                "list_over_bare_logged_in": round(ratio, 3),
                "ratio_rounds": [
                    {
                        "bare_logged_in_rps": summary(with_cookies)["http"]["rps"],
                        "list_rps": summary(listed)["http"]["rps"],
                        "ratio": round(ratio_n, 3),
                    }
                    for ratio_n, with_cookies, listed in rounds
                ],
                "list_over_bare_without_cookie": round(list_rps / bare_rps, 3) if bare_rps else 0,
                "peak_search": [
                    {
                        "users": s["users"],
                        "rps": summary(s)["http"]["rps"],
                        "page_views_p95_ms": summary(s)["page_views"]["p95_ms"],
                        "failures": s["failures_all"],
                        "cpu": s["cpu"],
                    }
                    for s in search
                ],
                "mix": {
                    "users": peak_users,
                    "seconds": mix_figures["seconds"],
                    "rps_total": mix_figures["http"]["rps"],
                    "page_views": mix_figures["page_views"],
                    "failures": mix_figures["failures_all"],
                    "endpoints": mix_figures["endpoints"],
                    "errors": mix_figures["errors"],
                    "logins_skipped": mix_figures["logins_skipped"],
                    "cpu": mix_figures["cpu"],
                    "client_saturated": mix_figures["client_saturated"],
                },
                "failures_total": failures_total,
                "errors_by_phase": {n: r["errors"][:5] for n, r in ran.items() if r["errors"]},
                # Cores used by anything but this benchmark's processes, at worst in a phase:
                # above ~0.2, another job shared the machine and the figures are pessimistic.
                "others_cores_max": max(r["cpu"]["others_cores"] for r in runs),
                "setup_seconds": setup_seconds,
                "targets": {
                    "zero_failures": failures_total == 0,
                    "page_views_p95_under_150_ms": (
                        p95_pages is not None and p95_pages < P95_PAGE_VIEW_TARGET_MS
                    ),
                    "documents_list_at_least_40_percent_of_bare_logged_in": (
                        ratio >= LIST_OVER_BARE_TARGET
                    ),
                },
            }
            log("stopping the stack…")
        result["seconds_total"] = round(time.monotonic() - began, 1)  # the stack stopped
        result_print(result)
    finally:
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # tests.scale.stack, as `python bench/load.py` runs it
    main()
