"""A real OpenID provider for the federation tests: panva's oidc-provider (certified), started on
loopback by tests/federation/provider/server.mjs, plus the tools to drive it without a browser.

The config given to `start_provider` (JSON in OIDC_TEST_CONFIG):
    port: 0 (a free one), issuer_host: "127.0.0.1",
    clients: [oidc-provider client metadata: client_id, client_secret, redirect_uris, …],
    accounts: {login: {"sub": …, "acr": …, "claims": {claim: value}}},
    scopes: {scope: [claim names]}, acr_values: ["eidas1", …].
"""

import base64
import html
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

PROVIDER_DIR = Path(__file__).with_name("provider")
NEEDS_NODE = (
    "Les tests d'identification (FranceConnect+, Pro Santé Connect) ont besoin de Node.js et npm"
    " : sudo apt-get install nodejs npm, puis make oidc-provider."
)


class Provider:
    """A running provider: `issuer` is http://HOST:PORT; `output()` has its stdout and stderr."""

    def __init__(self, process: subprocess.Popen, port: int, host: str, lines: list[str]):
        self.process = process
        self.port = port
        self.issuer = f"http://{host}:{port}"
        self._lines = lines

    def output(self) -> str:
        return "".join(self._lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_provider(config: dict, timeout: float = 90, attempts: int = 2) -> Provider:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(NEEDS_NODE)
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError(
            f"oidc-provider n'est pas installé dans {PROVIDER_DIR} : make oidc-provider"
        )
    # Started again once: on a loaded CI machine it once ended (or stalled) with nothing said
    # but Node's runtime warning; each failed start is described in the error.
    failures = []
    for _ in range(attempts):
        provider, failure = _start_once(node, config, timeout)
        if provider is not None:
            return provider
        failures.append(failure)
    raise RuntimeError("Le fournisseur OpenID de test n'a pas démarré :\n" + "\n".join(failures))


def _start_once(node: str, config: dict, timeout: float) -> tuple[Provider | None, str]:
    process = subprocess.Popen(
        [node, "server.mjs"],
        cwd=PROVIDER_DIR,
        env={**os.environ, "OIDC_TEST_CONFIG": json.dumps(config)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one pipe, drained by one thread: it can never fill up
        text=True,
    )
    lines: list[str] = []
    ready: queue.Queue[int | None] = queue.Queue()

    def drain():
        for line in process.stdout:
            lines.append(line)
            if line.startswith("READY "):
                ready.put(int(line.split()[1]))
        ready.put(None)  # the process ended

    threading.Thread(target=drain, daemon=True).start()
    started = time.monotonic()
    try:
        port = ready.get(timeout=timeout)
    except queue.Empty:
        port = None
    provider = Provider(process, port or 0, config.get("issuer_host", "127.0.0.1"), lines)
    if port is not None:
        return provider, ""
    waited = time.monotonic() - started
    try:  # ended by itself (its output closed), or still starting after `timeout`
        how = f"arrêté seul (code {process.wait(1)})"
    except subprocess.TimeoutExpired:
        how = "toujours en démarrage"
    provider.stop()
    return None, f"{how} après {waited:.1f} s :\n{provider.output()}"


def provider_login(
    http: requests.Session, authorize_url: str, login: str, redirect_prefix: str
) -> str:
    """Follow the provider's redirects, fill its login form with `login`, and return the URL it
    finally sends the browser to (the client's redirect URI, not followed)."""
    url, posted = authorize_url, False
    for _ in range(20):
        if url.startswith(redirect_prefix):
            return url
        response = http.get(url, allow_redirects=False)
        if not response.is_redirect:
            form = re.search(r'<form method="post" action="([^"]+)"', response.text)
            if posted or form is None:
                raise AssertionError(f"{response.status_code} on {url}:\n{response.text[:2000]}")
            url = urljoin(url, html.unescape(form[1]))
            response = http.post(url, data={"login": login}, allow_redirects=False)
            posted = True
            if not response.is_redirect:
                raise AssertionError(f"login {login!r} refused:\n{response.text[:2000]}")
        url = urljoin(url, response.headers["Location"])
    raise AssertionError(f"too many redirects, last one to {url}")


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tamper(id_token: str) -> str:
    """Change the payload of a signed JWT, keeping its header and signature: a forgery."""
    header, payload, signature = id_token.split(".")
    claims = json.loads(_b64decode(payload))
    if "given_name" in claims:
        claims["given_name"] = "Mallory"
    else:
        claims["tampered"] = True
    return ".".join([header, _b64encode(json.dumps(claims).encode()), signature])


def unsign(id_token: str) -> str:
    """The same claims with `"alg": "none"` and no signature (RFC 7519's unsecured JWT)."""
    _, payload, _ = id_token.split(".")
    header = _b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{payload}."


class TamperingProxy:
    """A man in the middle of the token endpoint only: the discovery document fetched through
    `url` sends the token request here, and the ID token in the response is forged. The issuer,
    the authorization endpoint and the JWKS stay the provider's own."""

    HOP_HEADERS = {"connection", "content-length", "transfer-encoding", "content-encoding", "host"}

    def __init__(self, upstream: str, *, unsigned: bool = False):
        # unsigned: the ID token loses its signature ("alg": "none"), and the discovery
        # document claims to allow that, as a careless provider's might
        self.unsigned = unsigned
        self.upstream = upstream.rstrip("/")
        self.tampered: list[str] = []  # the forged ID tokens, to prove the proxy was used
        self.url = ""
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "TamperingProxy":
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                proxy._forward(self)

            do_POST = do_GET

            def log_message(self, *args):  # quiet in the test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _forward(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in self.HOP_HEADERS}
        upstream = requests.request(
            request.command,
            self.upstream + request.path,
            headers=headers,
            data=request.rfile.read(length) if length else None,
            allow_redirects=False,
            timeout=10,
        )
        body = upstream.content
        path = urlsplit(request.path).path
        if path == "/.well-known/openid-configuration" and upstream.ok:
            document = upstream.json()
            token_path = urlsplit(document["token_endpoint"]).path
            document["token_endpoint"] = self.url + token_path
            if self.unsigned:
                document["id_token_signing_alg_values_supported"] = ["none", "RS256"]
            body = json.dumps(document).encode()
        elif upstream.ok and "id_token" in (data := _json_object(upstream)):
            data["id_token"] = (unsign if self.unsigned else tamper)(data["id_token"])
            self.tampered.append(data["id_token"])
            body = json.dumps(data).encode()
        request.send_response(upstream.status_code)
        for name, value in upstream.headers.items():
            if name.lower() not in self.HOP_HEADERS:
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def _json_object(response: requests.Response) -> dict:
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return {}
    data = response.json()
    return data if isinstance(data, dict) else {}
