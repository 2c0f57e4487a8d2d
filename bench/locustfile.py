"""Locust users of bench/load.py (run by it, headless, one class per phase; not on its own).

Environment: LOAD_CONFIG (the JSON file bench/load.py writes: the logged-in patients' and
professionals' cookies, the software's token, the SMTP gateway's port, the loopback endpoint
of the relay's codes, the PDF to upload), LOAD_RESULT (where the figures go), LOAD_WARMUP and
LOAD_MEASURE (seconds: the statistics are reset after the warm-up, written after the measured
window, then locust stops), LOAD_LOGIN_USES (logins already made per login-pool patient).

Users never think (`wait_time` 0): each one is a closed loop of requests. Every request is
checked (status, redirect target, a word of the page), so that a page served to the login form
or an error page counts as a failure, not as a fast success.

- BareUser: `GET /healthz`, the bare Django view (our whole middleware stack, nothing else);
- BareSessionUser: the same, with a logged-in patient's cookies (session and account loaded);
- ListUser: a logged-in patient's `GET /documents/`;
- MixUser: the realistic mix, by weight (one draw per task; a task may make several requests):

  patients (already logged in) … home 20, documents list 30, a document's page 15, its file
  8, upload a PDF 3 (form, POST, the page it redirects to); a patient logs in … 2 (login page,
  password, channel, code page, code, the page it redirects to; the wait for the mail apart);
  professionals … portal upload 4 (form, POST, the patient's page it redirects to), FHIR
  `DocumentReference` create by their software 6, SMTP message with a PDF through the
  gateway 6.

  So about 2 logins per 100 tasks, one for some 60 requests (each login is 6 of them): most
  patients come back within their session (30 minutes idle, 12 hours at most), and a login
  costs an Argon2 check (about 0.17 s of CPU), some 20 page views' worth. The professionals'
  writes are about a sixth of the tasks.
"""

import base64
import itertools
import json
import os
import random
import re
import smtplib
import ssl
import time
import uuid
from collections import deque
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from http.cookiejar import Cookie
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import gevent
import requests
from locust import FastHttpUser, constant, events, task
from locust.contrib.fasthttp import FastHttpSession

CONFIG = json.loads(Path(os.environ["LOAD_CONFIG"]).read_text())
RESULT = Path(os.environ["LOAD_RESULT"])
WARMUP = float(os.environ.get("LOAD_WARMUP", "5"))
MEASURE = float(os.environ.get("LOAD_MEASURE", "20"))
PDF = Path(CONFIG["pdf"]).read_bytes()
PDF_BASE64 = base64.b64encode(PDF).decode()

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DOCUMENT_URL = re.compile(r"^/documents/([0-9a-f-]{36})/$")
MAX_LOGINS = 3  # OTP_MAX_SENDS: codes sent to one person per 15 minutes
INS_NIR = "urn:oid:1.2.250.1.213.1.4.8"
RPPS = "urn:oid:1.2.250.1.71.4.2.1"
DOCUMENT_CATEGORY = "https://carnet.example/fhir/CodeSystem/document-category"

# The HTML pages fetched by GET: the "page views" of the target (files, posts, FHIR and SMTP
# are reported per endpoint).
PAGE_VIEWS = [
    "/",
    "/bienvenue/",
    "/documents/",
    "/documents/[id]/",
    "/documents/ajouter/",
    "/connexion/",
    "/connexion/mode/",
    "/connexion/code/",
    "/pro/patients/[id]/",
    "/pro/patients/[id]/ajouter/",
]

_numbers = itertools.count()
_codes = requests.Session()
_codes.trust_env = False  # loopback only

# Login-pool patients, each at most MAX_LOGINS times over all the runs (bench/load.py keeps the
# count from one run to the next in LOAD_LOGIN_USES).
_uses = json.loads(Path(os.environ["LOAD_LOGIN_USES"]).read_text())
_pool = deque(p for p in CONFIG["logins"] if _uses.get(p["identifier"], 0) < MAX_LOGINS)
_state = {"failures_all": 0, "errors": {}, "logins_skipped": 0}


# --- Statistics: the measured window, and every failure ---------------------------------------


@events.request.add_listener
def _count_failure(request_type, name, exception=None, **kwargs):
    if exception is not None:
        _state["failures_all"] += 1
        key = f"{request_type} {name}: {str(exception)[:200]}"
        _state["errors"][key] = _state["errors"].get(key, 0) + 1


@events.test_start.add_listener
def _start(environment, **kwargs):
    gevent.spawn(_measure, environment)


def _measure(environment) -> None:
    gevent.sleep(WARMUP)
    stats = environment.runner.stats
    stats.reset_all()
    started = time.time()
    gevent.sleep(MEASURE)
    ended = time.time()
    entries = [
        {
            "name": e.name,
            "method": e.method,
            "num_requests": e.num_requests,
            "num_failures": e.num_failures,
            "response_times": {str(k): v for k, v in e.response_times.items()},
        }
        for e in stats.entries.values()
        if e.num_requests or e.num_failures
    ]
    errors = [
        {"error": key, "occurrences": count}
        for key, count in sorted(_state["errors"].items(), key=lambda kv: -kv[1])
    ]
    RESULT.write_text(
        json.dumps(
            {
                "users": environment.runner.user_count,
                "seconds": ended - started,
                "entries": entries,
                "errors": errors,
                "failures_all": _state["failures_all"],
                "page_views": PAGE_VIEWS,
                "logins_skipped": _state["logins_skipped"],
                "login_uses": _uses,
            }
        )
    )
    environment.runner.quit()


# --- Helpers ------------------------------------------------------------------------------------


def _cookie(name: str, value: str) -> Cookie:
    """A cookie of 127.0.0.1, as the server set it (host only, path /)."""
    return Cookie(
        0, name, value, None, False, "127.0.0.1", False, False, "/", True, False, None, False,
        None, None, {},
    )  # fmt: skip


def _multipart(fields: dict, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _fire(environment, request_type: str, name: str, started: float, error=None, length=0):
    environment.events.request.fire(
        request_type=request_type,
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=length,
        exception=error,
        context={},
    )


class CarnetUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)
    network_timeout = 60.0
    connection_timeout = 10.0

    def session(self, cookies: dict | None = None) -> FastHttpSession:
        """A client of its own (its own cookie jar): another person's browser or software."""
        client = FastHttpSession(
            base_url=self.host,
            request_event=self.environment.events.request,
            user=self,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
        )
        for name, value in (cookies or {}).items():
            client.cookiejar.set_cookie(_cookie(name, value))
        return client

    def page(self, client, path: str, name: str, marker: str) -> str | None:
        """GET an HTML page: 200 (no redirect) with `marker` in it; its text, None if not."""
        with client.get(path, name=name, allow_redirects=False, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code} {r.headers.get('Location', '')}".strip())
                return None
            text = r.text or ""
            if marker not in text:
                r.failure(f"« {marker} » absent de la page")
                return None
            r.success()
            return text

    def post(self, client, path: str, name: str, body, content_type: str, expect: str):
        """POST: a 302 to a URL starting with `expect`; its Location, None if not."""
        headers = {"Content-Type": content_type, "Referer": self.host + path}
        with client.post(
            path, name=name, data=body, headers=headers, allow_redirects=False, catch_response=True
        ) as r:
            location = r.headers.get("Location", "") if r.headers else ""
            if r.status_code != 302 or not location.startswith(expect):
                errors = re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]{0,120})', r.text or "")
                r.failure(f"{r.status_code} {location} {errors[:2]}".strip())
                return None
            r.success()
            return location


def _today() -> str:
    """Today in France: the server refuses a document date in the future."""
    return datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()


def _token(text: str) -> str:
    found = TOKEN.search(text)
    return found.group(1) if found else ""


# --- The users ---------------------------------------------------------------------------------


class BareUser(CarnetUser):
    """The bare Django view: no cookie, no session, no database; the middleware stack."""

    @task
    def healthz(self):
        with self.client.get(
            "/healthz", name="/healthz", allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code == 200 and b'"ok"' in (r.content or b""):
                r.success()
            else:
                r.failure(f"{r.status_code}")


class PatientUser(CarnetUser):
    abstract = True

    def on_start(self):
        n = next(_numbers)
        self.patient = CONFIG["patients"][n % len(CONFIG["patients"])]
        self.pro = CONFIG["pros"][n % len(CONFIG["pros"])]
        for name, value in self.patient["cookies"].items():
            self.client.cookiejar.set_cookie(_cookie(name, value))

    def documents_list(self):
        self.page(self.client, "/documents/", "/documents/", "Mes documents")


class BareSessionUser(PatientUser):
    """The bare view asked by a logged-in patient's browser: the same view, but the middleware
    stack now loads and saves the session (Redis) and loads the account (PostgreSQL)."""

    @task
    def healthz(self):
        BareUser.healthz(self)


class ListUser(PatientUser):
    """A logged-in patient on their documents list, again and again."""

    @task
    def documents(self):
        self.documents_list()


class MixUser(PatientUser):
    """The realistic mix (module docstring)."""

    def on_start(self):
        super().on_start()
        self.pro_client = None  # made at first use: a professional's browser
        self.fhir_client = None  # their software: no cookie, the bearer token
        self.smtp = None

    def on_stop(self):
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except Exception:  # noqa: BLE001, S110 (ending anyway)
                pass

    # Patients already logged in.

    @task(20)
    def home(self):
        self.page(self.client, "/", "/", "Bonjour")

    @task(30)
    def documents(self):
        self.documents_list()

    @task(15)
    def document(self):
        public_id = random.choice(self.patient["documents"])
        self.page(self.client, f"/documents/{public_id}/", "/documents/[id]/", "<h1>")

    @task(8)
    def document_file(self):
        public_id = random.choice(self.patient["documents"])
        path = f"/documents/{public_id}/fichier/"
        with self.client.get(
            path, name="/documents/[id]/fichier/", allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code == 200 and (r.content or b"").startswith(b"%PDF"):
                r.success()
            else:
                r.failure(f"{r.status_code} {r.headers.get('Content-Type', '')}")

    @task(3)
    def upload(self):
        form = self.page(self.client, "/documents/ajouter/", "/documents/ajouter/", "<form")
        if form is None:
            return
        body, content_type = _multipart(
            {
                "csrfmiddlewaretoken": _token(form),
                "title": "Ordonnance déposée",
                "category": "ORD_SOIN",
                "document_date": _today(),
            },
            "ordonnance.pdf",
            PDF,
        )
        location = self.post(
            self.client, "/documents/ajouter/", "/documents/ajouter/", body, content_type,
            "/documents/",
        )  # fmt: skip
        if location and DOCUMENT_URL.match(location):
            self.page(self.client, location, "/documents/[id]/", "Ordonnance déposée")

    # A patient logs in (password, then a code sent by email).

    @task(2)
    def login(self):
        try:
            patient = _pool.popleft()
        except IndexError:
            _state["logins_skipped"] += 1
            return
        identifier = patient["identifier"]
        _uses[identifier] = _uses.get(identifier, 0) + 1
        try:
            self._log_in(patient)
        finally:
            if _uses[identifier] < MAX_LOGINS:
                _pool.append(patient)

    def _log_in(self, patient: dict) -> None:
        client = self.session()
        started = time.perf_counter()
        form = self.page(client, "/connexion/", "/connexion/", "Je m'identifie")
        if form is None:
            return
        fields = {
            "csrfmiddlewaretoken": _token(form),
            "identifier": patient["identifier"],
            "password": patient["password"],
        }
        if not self._form_post(client, "/connexion/", fields, "/connexion/mode/"):
            return
        form = self.page(client, "/connexion/mode/", "/connexion/mode/", "mode de réception")
        if form is None:
            return
        email = patient["email"]
        before = _codes.get(f"{CONFIG['codes_url']}/count", params={"to": email}, timeout=30)
        fields = {"csrfmiddlewaretoken": _token(form), "channel": "email"}
        if not self._form_post(client, "/connexion/mode/", fields, "/connexion/code/"):
            return
        form = self.page(client, "/connexion/code/", "/connexion/code/", "code d'accès")
        if form is None:
            return
        waited = time.perf_counter()
        answer = _codes.get(
            f"{CONFIG['codes_url']}/code",
            params={"to": email, "after": before.json()["count"]},
            timeout=60,
        )
        error = None if answer.status_code == 200 else RuntimeError("aucun code reçu en 30 s")
        _fire(
            self.environment,
            "EMAIL",
            "code de connexion reçu (file, worker, relais)",
            waited,
            error,
        )
        if error:
            return
        fields = {"csrfmiddlewaretoken": _token(form), "code": answer.json()["code"]}
        location = self._form_post(client, "/connexion/code/", fields, "/")
        if location is None:
            return
        marker = "Bienvenue" if location == "/bienvenue/" else "Bonjour"
        if self.page(client, location, location, marker) is not None:
            _fire(
                self.environment, "FLOW", "connexion complète (attente du mail comprise)", started
            )

    def _form_post(self, client, path: str, fields: dict, expect: str) -> str | None:
        return self.post(
            client, path, path, urlencode(fields), "application/x-www-form-urlencoded", expect
        )

    # Professionals: the portal, their software (FHIR), their mail (SMTP gateway).

    @task(4)
    def portal_upload(self):
        if self.pro_client is None:
            self.pro_client = self.session(self.pro["cookies"])
        patient = random.choice(CONFIG["patients"])
        path = f"/pro/patients/{patient['space']}/ajouter/"
        name = "/pro/patients/[id]/ajouter/"
        form = self.page(self.pro_client, path, name, "Ajouter un document au dossier")
        if form is None:
            return
        body, content_type = _multipart(
            {
                "csrfmiddlewaretoken": _token(form),
                "title": "Compte rendu de consultation",
                "category": "CPT_REND",
                "document_date": _today(),
            },
            "compte-rendu.pdf",
            PDF,
        )
        expect = f"/pro/patients/{patient['space']}/"
        location = self.post(self.pro_client, path, name, body, content_type, expect)
        if location:
            self.page(self.pro_client, location, "/pro/patients/[id]/", "Dossier du patient")

    @task(6)
    def fhir_create(self):
        if self.fhir_client is None:
            self.fhir_client = self.session()
        patient = random.choice(CONFIG["patients"])
        pro = random.choice(CONFIG["pros"])
        resource = {
            "resourceType": "DocumentReference",
            "status": "current",
            "subject": {"identifier": {"system": INS_NIR, "value": patient["nir"]}},
            "author": [{"identifier": {"system": RPPS, "value": pro["rpps"]}}],
            "category": [{"coding": [{"system": DOCUMENT_CATEGORY, "code": "CPT_REND"}]}],
            "description": "Compte rendu opératoire",
            "context": {"period": {"start": _today()}},
            "content": [{"attachment": {"contentType": "application/pdf", "data": PDF_BASE64}}],
        }
        headers = {
            "Authorization": f"Bearer {CONFIG['fhir_token']}",
            "Content-Type": "application/fhir+json",
            "Accept": "application/fhir+json",
        }
        with self.fhir_client.post(
            "/fhir/DocumentReference",
            name="/fhir/DocumentReference",
            data=json.dumps(resource),
            headers=headers,
            catch_response=True,
        ) as r:
            if r.status_code == 201 and b'"DocumentReference"' in (r.content or b""):
                r.success()
            else:
                r.failure(f"{r.status_code} {(r.text or '')[:200]}")

    @task(6)
    def smtp_message(self):
        patient = random.choice(CONFIG["patients"])
        message = EmailMessage()
        message["From"] = f"Dr Claire Fictif <{self.pro['address']}>"
        message["To"] = patient["address"]
        message["Subject"] = "Compte rendu de consultation"
        message["Message-ID"] = make_msgid(domain="medecin.mssante.exemple.fr")
        message.set_content("Bonjour,\n\nVoici le compte rendu de la consultation.\n\nDr Fictif")
        message.add_attachment(
            PDF, maintype="application", subtype="pdf", filename="compte-rendu.pdf"
        )
        data = message.as_bytes(policy=policy.SMTP)
        if self.smtp is None and not self._smtp_connect():
            return
        started = time.perf_counter()
        try:
            refused = self.smtp.sendmail(self.pro["address"], [patient["address"]], data)
            error = RuntimeError(f"refusé : {refused}") if refused else None
        except Exception as exc:  # noqa: BLE001 (reported as a failure, then reconnect)
            error, self.smtp = exc, None
        _fire(self.environment, "SMTP", "message avec un PDF", started, error, len(data))

    def _smtp_connect(self) -> bool:
        """One connection per virtual user (a professional's mail server keeps it open)."""
        started = time.perf_counter()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the gateway's self-signed certificate (loopback)
        try:
            smtp = smtplib.SMTP("127.0.0.1", CONFIG["smtp_port"], timeout=60)
            smtp.ehlo("cabinet.exemple.fr")
            smtp.starttls(context=context)
            smtp.ehlo("cabinet.exemple.fr")
            smtp.login(self.pro["rpps"], self.pro["smtp_secret"])
        except Exception as exc:  # noqa: BLE001 (reported as a failure)
            _fire(self.environment, "SMTP", "connexion (STARTTLS, AUTH)", started, exc)
            return False
        _fire(self.environment, "SMTP", "connexion (STARTTLS, AUTH)", started)
        self.smtp = smtp
        return True
