"""Benchmark: whole logins (password → channel → one-time code) through the real web server,
against the cost of one Argon2 password check measured in the same run.

    .venv/bin/python bench/login.py [--users K] [--threads T] [--workers W] [--timeout S]

Sets up a fresh SQLite database in a temporary directory (demo mode: codes stay in the outbox
table), creates K patient accounts sharing one Argon2 hash (hashed once, to save setup time),
starts `carnet serve` (gunicorn, W workers) on a free loopback port, then logs the K accounts
in from T threads, each login with its own cookie jar, reading its code from the outbox table.
The server is stopped at the end, whatever happens; all traffic goes to 127.0.0.1 only.

Prints one JSON line on stdout; progress goes to stderr.
"""

import concurrent.futures
import http.cookiejar
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from _common import argument_parser, log, result_print, throwaway_carnet

PASSWORD = "banc d'essai des connexions 2026"
REQUEST_TIMEOUT = 60  # seconds, per HTTP request
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoProxy(urllib.request.ProxyHandler):
    def __init__(self):
        super().__init__({})  # never through a proxy from the environment: loopback only


def start_server(env: dict, port: int, workers: int, logfile: Path) -> subprocess.Popen:
    argv = [
        sys.executable,
        "-m",
        "carnet.cli",
        "serve",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    with logfile.open("wb") as out:
        # its own process group: stopped as a whole at the end (gunicorn and its workers)
        return subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_server(server: subprocess.Popen) -> None:
    log("stopping the server…")
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)  # gunicorn: graceful shutdown of the workers
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def wait_until_up(base: str, server: subprocess.Popen, deadline: float) -> None:
    opener = urllib.request.build_opener(NoProxy())
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server stopped at start (exit {server.returncode})")
        try:
            with opener.open(base + "/connexion/", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit("the server did not answer in time")


class Login:
    """One browser-like session: cookies, CSRF token of the last form, redirects followed."""

    def __init__(self, base: str):
        assert base.startswith("http://127.0.0.1:"), base
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            NoProxy(), urllib.request.HTTPCookieProcessor(self.jar)
        )
        self.token = ""

    def _read(self, request) -> tuple[str, str]:
        with self.opener.open(request, timeout=REQUEST_TIMEOUT) as response:
            body = response.read().decode("utf-8")
            url = response.geturl()
        found = TOKEN.search(body)
        self.token = found.group(1) if found else ""
        return url, body

    def get(self, path: str) -> tuple[str, str]:
        return self._read(self.base + path)

    def post(self, path: str, fields: dict) -> tuple[str, str]:
        assert self.token, f"no form to post to {path}"
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": self.token, **fields}).encode()
        csrf = next((c.value for c in self.jar if c.name == "csrftoken"), "")
        request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only, see __init__)
            self.base + path,
            data=data,
            headers={"X-CSRFToken": csrf, "Referer": self.base + path},
        )
        return self._read(request)


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--timeout", type=float, default=900, help="give up after this many seconds in all"
    )
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout

    carnet = throwaway_carnet(
        "login", keep=args.keep, cache_table=True, CARNET_DEMO="1", CARNET_LOG_LEVEL="WARNING"
    )
    with carnet as tmp, ExitStack() as cleanup:  # the server stops before tmp goes
        from django.contrib.auth.hashers import check_password, make_password
        from django.db import connection

        from carnet.accounts.models import User
        from carnet.notifications.models import OutboxMessage

        log("Argon2: one hash, then checks…")
        started = time.perf_counter()
        hashed = make_password(PASSWORD)
        make_seconds = time.perf_counter() - started
        checks = []
        for _ in range(5):
            started = time.perf_counter()
            assert check_password(PASSWORD, hashed)
            checks.append(time.perf_counter() - started)
        argon2_seconds = statistics.median([make_seconds, *checks])
        assert hashed.startswith("argon2"), hashed[:20]

        log(f"creating {args.users} accounts…")
        users = [
            User(
                identifier=f"banc.usager.{n:05d}",
                password=hashed,
                kind=User.Kind.PATIENT,
                email=f"banc.usager.{n:05d}@exemple.fr",
                email_verified=True,
            )
            for n in range(args.users)
        ]
        User.objects.bulk_create(users, batch_size=1000)
        connection.close()  # the server gets the file to itself until the logins start

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log(f"starting carnet serve on {base} with {args.workers} workers…")
        server = start_server(dict(os.environ), port, args.workers, tmp / "server.log")
        cleanup.callback(stop_server, server)
        wait_until_up(base, server, min(deadline, time.monotonic() + 120))

        lock = threading.Lock()
        done = [0]

        def read_code(email: str) -> str:
            message = (
                OutboxMessage.objects.filter(to=email, kind="code_acces")
                .order_by("-id")
                .only("body")
                .first()
            )
            assert message is not None, f"no code sent to {email}"
            return CODE.search(message.body).group(1)

        def login(n: int) -> float:
            identifier = f"banc.usager.{n:05d}"
            session = Login(base)
            started = time.perf_counter()
            session.get("/connexion/")
            url, _ = session.post("/connexion/", {"identifier": identifier, "password": PASSWORD})
            assert url.endswith("/connexion/mode/"), f"{identifier}: password refused ({url})"
            url, _ = session.post("/connexion/mode/", {"channel": "email"})
            assert url.endswith("/connexion/code/"), f"{identifier}: no code sent ({url})"
            code = read_code(f"{identifier}@exemple.fr")
            url, body = session.post("/connexion/code/", {"code": code})
            assert url.endswith("/bienvenue/") and "Bienvenue" in body, f"{identifier}: {url}"
            seconds = time.perf_counter() - started
            with lock:
                done[0] += 1
                if done[0] % 50 == 0:
                    log(f"  {done[0]} logins")
            return seconds

        def worker(n: int) -> float:
            try:
                return login(n)
            finally:
                connection.close()  # this thread's own database connection

        log(f"{args.users} logins from {args.threads} threads…")
        latencies = []
        started = time.perf_counter()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.threads)
        try:
            futures = [pool.submit(worker, n) for n in range(args.users)]
            remaining = max(1.0, deadline - time.monotonic())
            for future in concurrent.futures.as_completed(futures, timeout=remaining):
                latencies.append(future.result())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        elapsed = time.perf_counter() - started

        latencies.sort()
        p50 = statistics.median(latencies)
        p95 = latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)]  # nearest rank
        result = {
            "users": args.users,
            "threads": args.threads,
            "logins_per_second": round(len(latencies) / elapsed, 2),
            "p50_seconds": round(p50, 3),
            "p95_seconds": round(p95, 3),
            "argon2_seconds": round(argon2_seconds, 3),
            "p50_over_argon2": round(p50 / argon2_seconds, 2),
        }
        result_print(result)


if __name__ == "__main__":
    main()
