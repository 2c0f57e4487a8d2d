"""A production-like Carnet on this machine, for the scale drills and the load benchmark.

What runs, as in production (docs/operations.md, « Topologie »): a PostgreSQL database of its
own on the machine's server; a Redis server of its own (cache, sessions, task queue), started
here; an S3-compatible object store (moto's standalone server, its own process); a mail relay
(an aiosmtpd server in this process, keeping what it receives); then Carnet's own processes,
started with the operator's commands — `carnet serve` web nodes, `carnet worker`, `carnet
smtpd` — each with a var directory of its own (nothing is shared through a disk), all on
loopback. Secrets come from the environment, as from a secret store.

Any process can be killed (SIGKILL) and started again; everything is stopped at the end and
the database dropped.
"""

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_string, policy
from pathlib import Path

import boto3
import requests
from aiosmtpd.controller import Controller
from botocore.config import Config

from tests.ports import free_port
from tests.smtp_sink import SmtpSink

CARNET = str(Path(sys.executable).with_name("carnet"))
FAILURE = re.compile(r"(sweep \S+|tick) failed")
REPO = Path(__file__).resolve().parents[2]
S3_KEY, S3_SECRET = "cle-de-test", "secret-de-test"  # moto accepts any pair
READY_TIMEOUT = 120  # seconds for a process to answer (a restart on a busy 2-core machine)
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
ACCESS_CODE_SUBJECT = "Votre code d'accès"  # notifications/code_acces.txt
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def eventually(read, done, timeout: float = 60):
    """read() again every half second until done(value), at most `timeout` seconds: the last
    value, for the caller's assertion (asynchronous effects, on a machine that may be busy)."""
    deadline = time.monotonic() + timeout
    while not done(value := read()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return value


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} s'est arrêté au démarrage (code {process.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} ne répond pas sur le port {port}")


def generated_secrets() -> dict[str, str]:
    """The secrets every node shares, as a secret store would hand them out."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CARNET_HMAC_KEY": secrets.token_hex(32),
        "CARNET_KEYS": json.dumps({"k1": base64.b64encode(secrets.token_bytes(32)).decode()}),
        "OIDC_RSA_PRIVATE_KEY": pem,
    }


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    popen: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"\n--- départ {self.starts} ---\n".encode())
            log.flush()
            self.popen = subprocess.Popen(  # noqa: S603 (our own command, our own arguments)
                self.argv,
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill reaches its children
            )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (gunicorn's workers, the file checker…), then wait."""
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def records(self, since: float = 0.0) -> list[dict]:
        """The JSON log lines written at or after `since` (a time.time()), with their time
        as a number under "at"; other lines (a start marker, a crash's traceback) skipped."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        records = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
                at = datetime.fromisoformat(record["time"]).timestamp()
            except (ValueError, KeyError, TypeError):
                continue
            if at >= since:
                records.append({**record, "at": at})
        return records

    def failures(self, since: float = 0.0) -> list[str]:
        """The worker's failed sweeps and ticks ("sweep purge failed", "tick failed")."""
        return [r["message"] for r in self.records(since) if FAILURE.fullmatch(str(r["message"]))]


@dataclass
class Stack:
    root: Path
    env: dict[str, str]
    mail: SmtpSink
    database: str
    processes: dict[str, Process] = field(default_factory=dict)

    # --- Carnet's processes -------------------------------------------------------------

    def node_env(self, name: str, **extra: str) -> dict[str, str]:
        var = self.root / name
        var.mkdir(exist_ok=True)
        return {**self.env, "CARNET_VAR_DIR": str(var), **extra}

    def carnet(self, *args: str, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess:
        """A one-off operator command (migrate, audit verify, shell…), on an operator's node."""
        result = subprocess.run(  # noqa: S603 (our own command)
            [CARNET, *args],
            env=self.node_env("operateur", **extra),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"carnet {args[0]} : {result.stderr.strip()[-2000:]}")
        return result

    def python(self, code: str, timeout: int = 600) -> str:
        """Python run with Django set up on an operator's node; returns its stdout."""
        return self.carnet("shell", "--no-imports", "-c", code, timeout=timeout).stdout

    def _add(self, name: str, argv: list[str], port: int | None = None, **extra: str) -> Process:
        process = Process(name, argv, self.node_env(name, **extra), self.root / f"{name}.log", port)
        self.processes[name] = process
        return process

    def web(self, name: str, workers: int = 2) -> str:
        """Start a web node (`carnet serve`); returns its base URL once /readyz says ready."""
        port = free_port()
        process = self._add(
            name, [CARNET, "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        )
        process.start()
        self.wait_ready(process)
        return self.url(name)

    def worker(self, name: str = "worker", tick_interval: int = 2) -> Process:
        process = self._add(name, [CARNET, "worker", "--tick-interval", str(tick_interval)])
        process.start()
        return process

    def smtpd(self, name: str = "smtpd") -> int:
        """Start the messaging gateway (`carnet smtpd`, STARTTLS); returns its port."""
        tls = self.root / "tls"
        if not (tls / "cert.pem").exists():
            self.carnet("demo_tls", str(tls), CARNET_DEMO="1")
        port = free_port()
        process = self._add(
            name,
            [CARNET, "smtpd", "--host", "127.0.0.1", "--port", str(port)],
            port=port,
            CARNET_SMTPD_TLS_CERT=str(tls / "cert.pem"),
            CARNET_SMTPD_TLS_KEY=str(tls / "key.pem"),
        )
        process.start()
        wait_for_port(port, process.popen, name)
        return port

    def url(self, name: str) -> str:
        bind = self.processes[name].argv[self.processes[name].argv.index("--bind") + 1]
        return f"http://{bind}"

    def wait_ready(self, process: Process) -> None:
        url = f"http://{process.argv[process.argv.index('--bind') + 1]}/readyz"
        probe = requests.Session()
        probe.trust_env = False  # loopback only, never through a proxy
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not process.alive:
                raise RuntimeError(f"{process.name} s'est arrêté :\n{process.tail()}")
            try:
                if probe.get(url, timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{process.name} n'est pas prêt :\n{process.tail()}")

    def restart(self, name: str) -> None:
        process = self.processes[name]
        process.kill()
        process.start()
        if "--bind" in process.argv:
            self.wait_ready(process)
        elif process.port:
            wait_for_port(process.port, process.popen, name)

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill(signal.SIGTERM)

    # --- What the mail relay received -----------------------------------------------------

    def mails_to(self, address: str) -> list:
        return [
            message_from_string(m["data"], policy=policy.default)
            for m in list(self.mail.messages)
            if address in m["to"]
        ]

    def code_sent_to(self, address: str, count_before: int, timeout: float = 30) -> str:
        """The one-time code of the first « Votre code d'accès » mail to `address` after the
        `count_before` first (the activation's mails may still be arriving meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for mail in self.mails_to(address)[count_before:]:
                if mail["Subject"] == ACCESS_CODE_SUBJECT:
                    return CODE.search(mail.get_content()).group(1)
            time.sleep(0.1)
        raise TimeoutError(f"aucun code envoyé à {address} en {timeout} s")


# --- A browser without a browser: cookies and the CSRF token ------------------------------


class Visitor:
    """A person's HTTP client: one cookie jar, whichever node it talks to."""

    def __init__(self):
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only, never through a proxy

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.session.get(url, allow_redirects=False, timeout=60, **kwargs)

    def post(self, url: str, data: dict | None = None, *, form_url: str | None = None, **kw):
        """POST with the CSRF token a GET of `form_url` (default: `url`) gives."""
        page = self.get(form_url or url)
        token = TOKEN.search(page.text)
        fields = {"csrfmiddlewaretoken": token.group(1) if token else "", **(data or {})}
        return self.session.post(url, data=fields, allow_redirects=False, timeout=60, **kw)

    def log_in(self, stack: Stack, base: str, identifier: str, password: str, email: str):
        """Password, then the code sent by email (through the queue, the worker, the relay)."""
        step = self.post(f"{base}/connexion/", {"identifier": identifier, "password": password})
        if step.headers.get("Location") != "/connexion/mode/":
            raise AssertionError(f"mot de passe refusé ({step.status_code})")
        before = len(stack.mails_to(email))
        chosen = self.post(f"{base}/connexion/mode/", {"channel": "email"})
        if chosen.status_code != 302:
            raise AssertionError(f"canal refusé ({chosen.status_code})")
        code = stack.code_sent_to(email, before)
        done = self.post(f"{base}/connexion/code/", {"code": code})
        if done.status_code != 302:
            raise AssertionError(f"code refusé ({done.status_code})")
        return done


# --- The stack ----------------------------------------------------------------------------


@contextmanager
def _database() -> Iterator[str]:
    name = f"carnet_scale_{uuid.uuid4().hex[:8]}"
    subprocess.run(["createdb", name], check=True)  # noqa: S607 (PostgreSQL's own tool)
    try:
        yield name
    finally:
        subprocess.run(["dropdb", "--force", "--if-exists", name], check=False)  # noqa: S607


@contextmanager
def production_stack(root: Path) -> Iterator[Stack]:
    """PostgreSQL, Redis, S3 and the mail relay up, the database migrated; Carnet's processes
    are started by the caller (`stack.web`, `stack.worker`, `stack.smtpd`)."""
    if not shutil.which("redis-server"):
        raise RuntimeError("redis-server est nécessaire (paquet Debian redis-server)")
    root.mkdir(parents=True, exist_ok=True)
    services: list[Process] = []
    controller = None
    try:
        redis_port = free_port()
        redis = Process(
            "redis",
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(root),
            ],  # fmt: skip
            dict(os.environ),
            root / "redis.log",
            redis_port,
        )
        s3_port = free_port()
        s3 = Process(
            "s3",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
            dict(os.environ),
            root / "s3.log",
            s3_port,
        )
        for service in (redis, s3):
            service.start()
            services.append(service)
            wait_for_port(service.port, service.popen, service.name)
        bucket = "carnet-documents"
        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{s3_port}",
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        ).create_bucket(Bucket=bucket)

        mail = SmtpSink()
        smtp_port = free_port()
        controller = Controller(mail, hostname="127.0.0.1", port=smtp_port, ready_timeout=60)
        controller.start()

        with _database() as database:
            keep = {k: v for k, v in os.environ.items() if not k.startswith(("CARNET_", "DJANGO"))}
            for variable in ("DATABASE_URL", "REDIS_URL", "STORAGE_URL", "EMAIL_URL", "SMS_URL"):
                keep.pop(variable, None)
            env = {
                **keep,
                **generated_secrets(),
                "DJANGO_SETTINGS_MODULE": "carnet.settings",
                "PYTHONPATH": str(REPO),
                "DATABASE_URL": f"postgres:///{database}",
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "STORAGE_URL": (
                    f"s3://{S3_KEY}:{S3_SECRET}@127.0.0.1:{s3_port}/{bucket}"
                    "?region=us-east-1&secure=0"
                ),
                "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "CARNET_SECURE_COOKIES": "0",  # plain HTTP on loopback; TLS ends at the proxy
                "CARNET_LOG_FORMAT": "json",
            }
            stack = Stack(root=root, env=env, mail=mail, database=database)
            try:
                stack.carnet("migrate", "--verbosity", "0")
                yield stack
            finally:
                stack.stop()
    finally:
        if controller is not None:
            controller.stop()
        for service in services:
            service.kill(signal.SIGTERM)
