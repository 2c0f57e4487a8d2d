"""The catalogue demo app for real: examples/smart_app.py (fhirclient, not ours) runs as a
subprocess against the live server, as a newcomer runs it after `make run`, on the data of
`carnet seed_demo` and its demo entry « Carnet Démo — Suivi tension » (client_id
demo-suivi-tension). Marie-Noëlle (demo.patient) consents in Chromium; the browser's redirect
reaches the script's own one-shot callback server on 127.0.0.1; the script reads her identity,
documents and measures, writes a blood pressure and reads it back. She then disconnects it from
« Services connectés », and the script's `--verifier` run gets 401. axe-core checks every page,
the script's callback page included."""

import os
import queue
import re
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from carnet.catalogue.models import App, Connection
from carnet.core import clock
from carnet.documents.models import Document
from carnet.enrollment.management.commands.seed_demo import (
    DEMO_APP_CLIENT_ID,
    DEMO_APPS,
    DEMO_PASSWORD_PATIENT,
)
from carnet.enrollment.models import Space
from carnet.profile.models import Measurement

from . import steps
from .conftest import AXE_JS, AXE_PATH

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "smart_app.py"
MARKER = "Adresse d'autorisation :"
APP_NAME = DEMO_APPS[0]["name"]  # « Carnet Démo — Suivi tension »
PATIENT_EMAIL = "marie.demo@exemple.fr"
WRITTEN = re.compile(r"Mesure ajoutée : Observation/([0-9a-f-]{36})")
TIMEOUT = 60


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", stdout=StringIO())
    return Space.objects.get(person__is_demo=True, person__last_name="DÉMO-ACTIVE")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def script_env() -> dict:
    """The script talks to the local servers directly, never through a proxy."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return {**env, "PYTHONUNBUFFERED": "1"}


class Script:
    """examples/smart_app.py in a subprocess; its output read line by line as it comes."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), *args],
            cwd=ROOT,
            env=script_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def line_starting(self, prefix: str) -> str:
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"no line {prefix!r} from the script; so far: {self.seen}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def finish(self) -> tuple[int, str]:
        code = self.process.wait(timeout=TIMEOUT)
        self.reader.join(timeout=TIMEOUT)  # to the end of its output
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code, "\n".join(self.seen)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def verify(base: str, state: Path) -> subprocess.CompletedProcess:
    """The script's second run: is its access cut?"""
    return subprocess.run(
        [sys.executable, str(SCRIPT), base, "--verifier", "--etat", str(state)],
        cwd=ROOT,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_the_example_app_connects_reads_writes_and_is_disconnected(ui, live_server, demo, tmp_path):
    app = App.objects.get(client_id=DEMO_APP_CLIENT_ID)
    assert app.client_type == App.CLIENT_PUBLIC and app.status == App.Status.ONLINE
    port, state = free_port(), tmp_path / "etat.json"
    callback_origin = f"http://127.0.0.1:{port}"
    # axe-core for the script's callback page too (the tab serves it at the page's origin).
    ui.context.route(
        callback_origin + AXE_PATH,
        lambda route: route.fulfill(status=200, content_type="text/javascript", path=AXE_JS),
    )

    steps.log_in(ui, "demo.patient", DEMO_PASSWORD_PATIENT, email=PATIENT_EMAIL)
    tab, page = ui.tab, ui.tab.page
    # The catalogue offers the seed's online demo entries, not the suspended one.
    tab.visit("/catalogue/")
    main = page.get_by_role("main")
    for spec in DEMO_APPS:
        if spec.get("status") == App.Status.SUSPENDED:
            expect(main).not_to_contain_text(spec["name"])
        else:
            expect(main.get_by_role("link", name=spec["name"], exact=True)).to_be_visible()

    # --- The app's first run: the authorization URL, the consent in Chromium ----------------
    script = Script(live_server.url, "--port", str(port), "--sans-navigateur", "--etat", str(state))
    try:
        url = script.line_starting(MARKER).removeprefix(MARKER).strip()
        assert "code_challenge_method=S256" in url and f"client_id={DEMO_APP_CLIENT_ID}" in url
        page.goto(url)
        tab.audit()
        expect(page.get_by_role("heading", level=1)).to_contain_text(
            f"Connecter {APP_NAME} au profil de Marie-Noëlle"
        )
        with page.expect_navigation(url=re.compile(rf"^{callback_origin}/retour\?")):
            page.get_by_role("button", name="J'autorise").click()
        tab.audit()  # the script's own page, served by its one-shot server
        expect(page.get_by_role("heading", level=1)).to_have_text("Autorisation reçue")
        code, output = script.finish()
    finally:
        script.stop()
    assert code == 0, output

    # --- What it read, and what it wrote ---------------------------------------------------
    assert f"Patient connecté : Marie-Noëlle DÉMO-ACTIVE (Patient/{demo.public_id})" in output
    titles = list(Document.objects.filter(space=demo).values_list("title", flat=True))
    assert len(titles) == 4 and f"Documents ({len(titles)}) :" in output
    for title in titles:
        assert f"  - {title} (" in output
    assert "124/80 mmHg" in output  # the seed's latest blood pressure, among the latest measures
    written = WRITTEN.search(output)
    assert written, output
    measure = Measurement.objects.get(public_id=written.group(1))
    assert (measure.space_id, measure.kind) == (demo.pk, "tension")
    assert (int(measure.value), int(measure.value2)) == (126, 81)
    assert measure.author is None  # added by the app, not by a person
    assert clock.now() - measure.taken_at < timedelta(minutes=5)
    assert re.search(r"Relue sur le serveur : .* 126/81 mmHg", output), output
    connection = Connection.objects.get(space=demo, app__client_id=DEMO_APP_CLIENT_ID)
    assert connection.revoked_at is None and connection.last_access_at is not None

    # Not disconnected yet: the verification says so, and fails.
    still = verify(live_server.url, state)
    assert still.returncode == 1 and "encore accès" in still.stdout, still.stdout + still.stderr

    # --- Marie-Noëlle disconnects it from the settings --------------------------------------
    tab.visit("/parametres/")
    tab.follow("Voir mes services connectés")
    expect(page.get_by_role("main")).to_contain_text(APP_NAME)
    tab.follow(f"Désynchroniser {APP_NAME}")
    tab.submit("Désynchroniser")
    expect(page.get_by_role("main")).to_contain_text("Aucun service n'est connecté")

    # --- The app's second run: 401, and its refresh token refused too ------------------------
    cut = verify(live_server.url, state)
    assert cut.returncode == 0, cut.stdout + cut.stderr
    assert "le serveur répond 401" in cut.stdout
    assert "bien déconnectée" in cut.stdout
