"""Two web nodes (`carnet serve` on two ports), one worker, sharing PostgreSQL, Redis and an
S3-compatible store: whatever node a request reaches, the person sees the same Carnet."""

import hashlib
import json
import re
import subprocess
import time

import pytest
import redis

from tests.documents.conftest import pdf_bytes
from tests.scale.populate import PASSWORD
from tests.scale.stack import ACCESS_CODE_SUBJECT, Visitor, eventually, production_stack

pytestmark = pytest.mark.scale


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with production_stack(tmp_path_factory.mktemp("deux-noeuds")) as stack:
        stack.a = stack.web("web-a")
        stack.b = stack.web("web-b")
        stack.worker(tick_interval=1)
        stack.patients = json.loads(
            stack.python("from tests.scale.populate import print_patients; print_patients(4)")
        )
        yield stack


def test_a_session_opened_on_node_a_continues_on_node_b(stack):
    alice = stack.patients[0]
    visitor = Visitor()
    visitor.log_in(stack, stack.a, alice["identifier"], PASSWORD, alice["email"])
    home_b = visitor.get(f"{stack.b}/")
    assert home_b.status_code == 200
    assert "Bonjour" in home_b.text
    # The session in Redis is JSON (never a pickle a writer to Redis could make us load).
    store = redis.Redis.from_url(stack.env["REDIS_URL"])
    sessions = [store.get(key) for key in store.scan_iter("*sessions*")]
    decoded = [json.loads(value) for value in sessions]
    assert any("_auth_user_id" in session for session in decoded)
    # And logging out on B ends it on A too (the session lives in Redis, not in a node).
    out = visitor.post(f"{stack.b}/deconnexion/", form_url=f"{stack.b}/")
    assert out.status_code in (200, 302), out.text[:300]
    assert visitor.get(f"{stack.a}/documents/").headers["Location"].startswith("/connexion/")


def test_a_login_rate_limit_reached_on_node_a_holds_on_node_b(stack):
    bob = stack.patients[1]
    visitor = Visitor()
    for _ in range(10):  # LOGIN_MAX_FAILURES_PER_IDENTIFIER wrong passwords, all on A
        refused = visitor.post(
            f"{stack.a}/connexion/", {"identifier": bob["identifier"], "password": "pas-le-bon"}
        )
        assert "Identifiant ou mot de passe incorrect" in refused.text or "Trop de" in refused.text
    # On B, even the right password is refused for the lockout's time.
    locked = Visitor().post(
        f"{stack.b}/connexion/", {"identifier": bob["identifier"], "password": PASSWORD}
    )
    assert "Trop de tentatives" in locked.text
    assert "Location" not in locked.headers


def test_a_document_uploaded_on_node_a_downloads_on_node_b(stack):
    carol = stack.patients[2]
    visitor = Visitor()
    visitor.log_in(stack, stack.a, carol["identifier"], PASSWORD, carol["email"])
    data = pdf_bytes("Ordonnance envoyee sur le noeud A")
    added = visitor.post(
        f"{stack.a}/documents/ajouter/",
        {"title": "Ordonnance", "category": "ORD_SOIN", "document_date": "2026-11-20"},
        files={"file": ("ordonnance.pdf", data, "application/pdf")},
    )
    assert added.status_code == 302, re.findall(r"(?s)<p[^>]*error[^>]*>(.*?)</p>", added.text)
    detail = added.headers["Location"]
    content = visitor.get(f"{stack.b}{detail}fichier/?telecharger=1")
    assert content.status_code == 200
    assert hashlib.sha256(content.content).hexdigest() == hashlib.sha256(data).hexdigest()
    # Nothing was written on either web node's disk: the blob is in the object store.
    for node in ("web-a", "web-b"):
        var = stack.root / node
        written = [p for p in var.rglob("*") if p.is_file() and "static" not in p.parts]
        assert written == [], written


def test_a_notification_queued_on_node_a_is_sent_once_by_the_worker(stack):
    dan = stack.patients[3]
    visitor = Visitor()
    before = len(stack.mails_to(dan["email"]))
    step = visitor.post(
        f"{stack.a}/connexion/", {"identifier": dan["identifier"], "password": PASSWORD}
    )
    assert step.headers["Location"] == "/connexion/mode/"
    visitor.post(f"{stack.a}/connexion/mode/", {"channel": "email"})
    stack.code_sent_to(dan["email"], before)
    # Several ticks later (each one also delivers the outbox), still one code mail.
    time.sleep(4)
    codes = [m for m in stack.mails_to(dan["email"]) if m["Subject"] == ACCESS_CODE_SUBJECT]
    assert len(codes) == 1
    # The row is marked sent after the relay's answer: it may follow the mail by a moment.
    sent = eventually(
        lambda: stack.python(
            "from carnet.notifications.models import OutboxMessage as O; "
            f"print(O.objects.filter(to={dan['email']!r}, kind='code_acces')"
            ".values_list('status', 'attempts').get())"
        ).strip(),
        lambda status: status == "('sent', 1)",
    )
    assert sent == "('sent', 1)"


def test_every_process_reconnects_after_the_database_drops_its_connections(stack):
    """A failover or a restart of PostgreSQL: every persistent connection is cut. The next
    request on each node, and the worker's next task and tick, open new ones."""
    erin = json.loads(
        stack.python(
            "from tests.scale.populate import print_patients; "
            "print_patients(1, prefix='erin.reconnexion')"
        )
    )[0]
    time.sleep(2)  # the worker's ticks have their connection open
    cut_at = time.time()
    cut = subprocess.run(
        ["psql", "-d", stack.database, "-Atc",
         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
         "WHERE datname = current_database() AND pid <> pg_backend_pid()"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert int(cut.stdout.strip()) >= 2  # at least a web node's and the worker's
    visitor = Visitor()
    # Both nodes answer, and the code (queued on A, sent by the worker) arrives.
    visitor.log_in(stack, stack.a, erin["identifier"], PASSWORD, erin["email"])
    assert "Bonjour" in visitor.get(f"{stack.b}/").text
    worker = stack.processes["worker"]
    # At least two ticks end after the cut (their last sweep logged)…
    delivered = eventually(
        lambda: [
            r for r in worker.records(since=cut_at)
            if str(r["message"]).startswith("sweep envoi_messages:")
        ],
        lambda records: len(records) >= 2,
    )  # fmt: skip
    assert len(delivered) >= 2, worker.tail(60)
    # …and the cut may have fallen in the middle of a sweep (a tick runs for some 40 ms every
    # second): that sweep fails; the ones after it, in the same tick, and every later tick
    # open a new connection. Never a whole tick, never a second failure.
    assert len(worker.failures(since=cut_at)) <= 1, worker.tail(60)
