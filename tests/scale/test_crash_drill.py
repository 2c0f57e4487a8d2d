"""Crash drill: the web nodes, the worker and the SMTP gateway are killed (SIGKILL, the whole
process group) at random moments while patients upload documents, a professional sends mails
with attachments through the gateway and the worker's tick purges documents deleted past their
retention; each killed process is started again at once, as a supervisor would.

Afterwards (DESIGN invariant 5, « Nothing lost »): every upload and every mail that got a
success answer is readable with the right checksum; no blob row points to a missing object in
the store; the orphan sweep leaves only referenced objects; each purged document was purged
exactly once; the audit chains verify.

Clients behave as real ones: a refused or dropped connection is "no success", and the same item
is tried again; only success answers are checked. The load arrives over a window (as from many
people), during which the purge's documents come due too. An answer that is neither a success
nor a crash's (a 5xx from a web node, a lost session, any SMTP refusal — a temporary 4xx is
tried again, but recorded) fails the drill: a kill drops connections, it must not make the
surviving processes answer errors. (It found a deadlock between an upload and a mail delivered
to the same space: see `document_add`.)

The functions `pending_purges` and `stored_state` run inside the stack (`Stack.python`), on the
operator's node.
"""

import hashlib
import json
import random
import re
import smtplib
import ssl
import threading
import time
from collections import Counter
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
import requests

from tests.documents.conftest import pdf_bytes
from tests.scale.populate import PASSWORD
from tests.scale.stack import Stack, Visitor, production_stack

pytestmark = pytest.mark.scale

SEED = 20261126
PATIENTS = 4
UPLOADS = 200
MAILS = 200
UPLOAD_THREADS = PATIENTS  # one patient per thread, each with its own cookie jar
SMTP_THREADS = 2  # two connections of the same professional
DOOMED = 300  # documents deleted past DOCUMENT_RETENTION, for the tick's purge
# Seconds over which the uploads and the mails arrive and the doomed documents come due: the
# load and the purge run through the chaos, whatever the machine's pace.
WINDOW = 45
TICK = 1  # seconds between two ticks of the worker
VICTIMS = ("web-a", "web-b", "worker", "smtpd")
KILLS_EACH = 2  # at least, of each process, during the load and the sweep
CHAOS_MAX = 400  # seconds of chaos at most, from the start of the load (ends sooner when done)
PAUSE = (0.3, 2.0)  # seconds between a restart and the next kill
RETRY_PAUSE = 0.2
GIVE_UP = 180  # seconds a client keeps trying one item (a restart takes a few)
PURGE_WAIT = 120  # seconds, at most, for the worker to purge what is due after the chaos
DOCUMENT = re.compile(r"/documents/([0-9a-f-]{36})/")
PRO_DOMAIN = "medecin.mssante.exemple.fr"
MAIL_TEXT = "Bonjour,\n\nVeuillez trouver ci-joint le compte rendu {n}.\n\nDr Claire Fictif"


# --- Inside the stack (Stack.python) -------------------------------------------------------


def pending_purges(doomed_path: str) -> None:
    """How many of the doomed documents still have their row."""
    from carnet.documents.models import Document

    ids = [d["id"] for d in json.loads(Path(doomed_path).read_text())]
    print(Document.objects.filter(public_id__in=ids).count())


def stored_state(doomed_path: str, mails_path: str) -> None:
    """What the drill left, as JSON: the purge events of the doomed documents, the stored
    copies of the acknowledged mails, and the store against the blob rows around an orphan
    sweep run as if ORPHAN_BLOB_AGE had passed (the store dates objects in real time)."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Count

    from carnet.audit.models import Event
    from carnet.core import clock
    from carnet.core.blobs import orphans_sweep
    from carnet.core.models import Blob
    from carnet.core.stores import blob_store
    from carnet.documents.models import Document
    from carnet.messaging.models import Message
    from carnet.messaging.services import message_text

    doomed = json.loads(Path(doomed_path).read_text())
    ids = [d["id"] for d in doomed]
    purges = dict(
        Event.objects.filter(action="document_purge", object_id__in=ids)
        .order_by()
        .values_list("object_id")
        .annotate(n=Count("id"))
    )
    copies: dict[str, list] = {}
    mail_ids = json.loads(Path(mails_path).read_text())
    for message in Message.objects.filter(message_id__in=mail_ids).select_related(
        "conversation__space__person", "body__data_key"
    ):
        copies.setdefault(message.message_id, []).append(
            {
                "email": message.conversation.space.person.email,
                "body": message_text(message),
                "attachments": [
                    [str(a.public_id), a.filename, a.size]
                    for a in message.attachments.filter(blob__isnull=False)
                ],
            }
        )
    store = blob_store()
    rows_before = set(Blob.objects.values_list("key", flat=True))
    listed_before = {name for name, _ in store.listing()}
    clock.set_offset(settings.CARNET["ORPHAN_BLOB_AGE"] + timedelta(minutes=5))
    try:
        removed = orphans_sweep()
    finally:
        clock.set_offset(timedelta(0))
    listed = {name for name, _ in store.listing()}
    rows = set(Blob.objects.values_list("key", flat=True))
    print(
        json.dumps(
            {
                "purges": purges,
                "doomed_rows": Document.objects.filter(public_id__in=ids).count(),
                "doomed_blobs": sorted({d["blob"] for d in doomed} & (rows | listed)),
                "copies": copies,
                "orphans_before": sorted(listed_before - rows_before),
                "orphans_removed": removed,
                "unreferenced": sorted(listed - rows),
                "missing": sorted(rows - listed),
                "objects": len(listed),
            }
        )
    )


# --- The drill's parts -------------------------------------------------------------------


class Tally:
    """What the clients saw, shared by their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.uploaded: list[tuple[int, str, str]] = []  # (patient, document id, sha256)
        self.mailed: dict[str, tuple[str, str, str]] = {}  # Message-ID: (email, file, sha256)
        self.failed = Counter()  # (what, reason): tried again
        self.unexpected: list[str] = []  # answers no crash explains
        self.given_up: list[str] = []

    def failure(self, what: str, reason: str) -> None:
        with self.lock:
            self.failed[what, reason] += 1

    def wrong(self, text: str) -> None:
        with self.lock:
            self.unexpected.append(text)


class Chaos(threading.Thread):
    """Kills one of VICTIMS at random moments (SIGKILL to its process group) and starts it
    again at once, as a supervisor would, until `stop` is set: one process down at a time.
    Victims are drawn from a shuffled deck, so that each is killed about as often as the
    others."""

    def __init__(self, stack: Stack, stop: threading.Event):
        super().__init__(name="chaos", daemon=True)
        self.stack, self.stop = stack, stop
        self.rng = random.Random(SEED)
        self.kills = Counter()
        self.restarts: list[float] = []  # seconds from the kill to the restarted process
        self.error: BaseException | None = None

    def run(self) -> None:
        deck: list[str] = []
        try:
            while not self.stop.wait(self.rng.uniform(*PAUSE)):
                if not deck:
                    deck = list(VICTIMS)
                    self.rng.shuffle(deck)
                name = deck.pop()
                process = self.stack.processes[name]
                killed_at = time.monotonic()
                if process.alive:  # counted only if there was something to kill
                    process.kill()
                    self.kills[name] += 1
                self.stack.restart(name)
                self.restarts.append(time.monotonic() - killed_at)
        except BaseException as exc:  # reported by the test, with the process's log
            self.error = exc


def on_schedule(items, began: float, count: int):
    """The items (their number first) as they come due: number n at WINDOW * n / count
    seconds after `began`, or at once if late. Traffic arrives over the window, as from many
    people, rather than as fast as the servers answer."""
    for item in items:
        time.sleep(max(0, began + WINDOW * item[0] / count - time.monotonic()))
        yield item


def upload_all(nodes: list[str], visitor: Visitor, patient: int, items, tally: Tally) -> None:
    """Each (number, PDF) uploaded on the nodes in turn, tried again until a success answer."""
    for n, data in items:
        give_up = time.monotonic() + GIVE_UP
        attempt = 0
        while True:
            if time.monotonic() > give_up:
                tally.given_up.append(f"envoi {n}")
                break
            base = nodes[(n + attempt) % len(nodes)]
            attempt += 1
            try:
                answer = visitor.post(
                    f"{base}/documents/ajouter/",
                    {
                        "title": f"Exercice {n}",
                        "category": "CPT_REND",
                        "document_date": "2026-11-20",
                    },
                    files={"file": (f"exercice-{n}.pdf", data, "application/pdf")},
                )
            except requests.RequestException as exc:
                tally.failure("envoi", exc.__class__.__name__)
                time.sleep(RETRY_PAUSE)
                continue
            found = DOCUMENT.fullmatch(answer.headers.get("Location", ""))
            if answer.status_code == 302 and found:
                with tally.lock:
                    tally.uploaded.append(
                        (patient, found.group(1), hashlib.sha256(data).hexdigest())
                    )
                break
            tally.wrong(
                f"envoi {n} sur {base} : {answer.status_code} "
                f"{answer.headers.get('Location', '')} {answer.text[:300]!r}"
            )
            if answer.status_code < 500:
                break  # a refusal: the same request would get it again
            time.sleep(RETRY_PAUSE)


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the gateway's self-signed certificate, on loopback
    return context


def connected(port: int, pro: dict) -> smtplib.SMTP:
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
    try:
        smtp.ehlo("cabinet.exemple.fr")
        smtp.starttls(context=client_context())
        smtp.ehlo("cabinet.exemple.fr")
        smtp.login(pro["rpps"], pro["secret"])
    except BaseException:
        smtp.close()
        raise
    return smtp


def answer_of(exc: smtplib.SMTPException) -> tuple[int, bytes]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        [(code, text)] = exc.recipients.values()
        return code, text
    return exc.smtp_code, exc.smtp_error


def send_all(port: int, pro: dict, mails, tally: Tally) -> None:
    """Each mail sent over one connection (opened again after a failure), tried again until
    250; a permanent refusal (5xx) ends the tries, as a mail client does. Any answer other
    than 250 is recorded: a kill drops connections, it makes the gateway answer nothing."""
    smtp = None
    try:
        for _, message_id, email, filename, sha256, data in mails:
            give_up = time.monotonic() + GIVE_UP
            while True:
                if time.monotonic() > give_up:
                    tally.given_up.append(f"message {message_id}")
                    break
                try:
                    if smtp is None:
                        smtp = connected(port, pro)
                    smtp.sendmail(pro["address"], [pro["patients_by_email"][email]], data)
                except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
                    # An answer, not a crash: the gateway's own failure (4xx: the mail is kept
                    # and sent again) or a refusal (5xx: given up), neither due to a kill.
                    code, text = answer_of(exc)
                    tally.wrong(f"message {message_id} : {code} {text!r}")
                    if code >= 500:
                        break
                except (smtplib.SMTPException, OSError) as exc:
                    tally.failure("message", exc.__class__.__name__)
                else:
                    with tally.lock:
                        tally.mailed[message_id] = (email, filename, sha256)
                    break
                if smtp is not None:  # whatever state it is in, a new connection
                    smtp.close()
                    smtp = None
                time.sleep(RETRY_PAUSE)
    finally:
        if smtp is not None:
            smtp.close()


def mail_of(n: int, pro: dict, email: str) -> tuple:
    """Mail n to the patient of `email`, with a PDF of its own."""
    data = pdf_bytes(f"Compte rendu {n} envoye par messagerie securisee")
    filename = f"compte-rendu-{n}.pdf"
    message = EmailMessage()
    message["From"] = f"Dr Claire Fictif <{pro['address']}>"
    message["To"] = pro["patients_by_email"][email]
    message["Subject"] = f"Compte rendu {n}"
    message_id = make_msgid(domain=PRO_DOMAIN)
    message["Message-ID"] = message_id
    message.set_content(MAIL_TEXT.format(n=n))
    message.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    raw = message.as_bytes(policy=policy.SMTP)
    return n, message_id, email, filename, hashlib.sha256(data).hexdigest(), raw


def in_threads(target, shares: list[tuple]) -> list[threading.Thread]:
    threads = [threading.Thread(target=target, args=share, daemon=True) for share in shares]
    for thread in threads:
        thread.start()
    return threads


def logs(stack: Stack) -> str:
    return "\n".join(f"--- {name}\n{p.tail(30)}" for name, p in stack.processes.items())


# --- The drill ---------------------------------------------------------------------------


def test_crash_drill(tmp_path):
    began = time.monotonic()
    with production_stack(tmp_path / "pile") as stack:
        nodes = [stack.web("web-a"), stack.web("web-b")]
        stack.worker(tick_interval=TICK)
        smtp_port = stack.smtpd()
        patients = json.loads(
            stack.python(
                "from tests.scale.populate import print_patients; "
                f"print_patients({PATIENTS}, prefix='exercice')"
            )
        )
        identifiers = [p["identifier"] for p in patients]
        pro = json.loads(
            stack.python(
                "import json; from tests.scale.populate import professional_writing_to; "
                f"print(json.dumps(professional_writing_to({identifiers!r})))"
            )
        )
        emails = {p["identifier"]: p["email"] for p in patients}
        pro["patients_by_email"] = {emails[i]: a for i, a in pro["patients"].items()}
        visitors = []
        for k, patient in enumerate(patients):
            visitor = Visitor()
            visitor.log_in(stack, nodes[k % 2], patient["identifier"], PASSWORD, patient["email"])
            visitors.append(visitor)

        # The load, made beforehand: a PDF of its own for each upload and each mail.
        uploads = [(n, pdf_bytes(f"Exercice de panne, envoi {n}")) for n in range(UPLOADS)]
        mails = [mail_of(n, pro, patients[n % PATIENTS]["email"]) for n in range(MAILS)]

        # A crash leftover the sweep must find whatever the chaos leaves: an object no row
        # references, as a web node killed between its write and its commit leaves.
        planted = stack.python(
            "import secrets; from carnet.core.stores import blob_store; "
            "key = secrets.token_hex(32); blob_store().write(key, secrets.token_bytes(64)); "
            "print(key)"
        ).strip()
        doomed = json.loads(
            stack.python(
                "import json; from tests.scale.populate import deleted_documents; "
                f"print(json.dumps(deleted_documents({identifiers!r}, {DOOMED}, "
                f"due_over={WINDOW})))"
            )
        )
        # The last doomed document is due WINDOW seconds after that call ended, at
        # the latest; a tick later the purge has found it.
        sweep_until = time.monotonic() + WINDOW + TICK
        doomed_path = stack.root / "condamnes.json"
        doomed_path.write_text(json.dumps(doomed))

        # The chaos, during the load.
        tally = Tally()
        stop = threading.Event()
        chaos = Chaos(stack, stop)
        load_began = time.monotonic()
        chaos.start()
        load = in_threads(
            upload_all,
            [
                (
                    nodes,
                    visitors[k],
                    k,
                    on_schedule(uploads[k::UPLOAD_THREADS], load_began, UPLOADS),
                    tally,
                )
                for k in range(UPLOAD_THREADS)
            ],
        ) + in_threads(
            send_all,
            [
                (smtp_port, pro, on_schedule(mails[k::SMTP_THREADS], load_began, MAILS), tally)
                for k in range(SMTP_THREADS)
            ],
        )
        for thread in load:
            thread.join()
        load_seconds = time.monotonic() - load_began
        # The chaos lasts through the load and the purge's work (the worker is killed during
        # the sweep too), and until each process was killed KILLS_EACH times: restarts are
        # slower on a busy machine. CHAOS_MAX at most.
        chaos_end = load_began + CHAOS_MAX
        while chaos.is_alive() and time.monotonic() < chaos_end:
            killed = min(chaos.kills[name] for name in VICTIMS)
            if time.monotonic() >= sweep_until and killed >= KILLS_EACH:
                break
            time.sleep(0.5)
        stop.set()
        chaos_seconds = time.monotonic() - load_began
        chaos.join()
        assert chaos.error is None, f"{chaos.error!r}\n{logs(stack)}"
        # Every process is up, none stopped on its own meanwhile.
        for name in VICTIMS:
            assert stack.processes[name].alive, f"{name} arrêté :\n{stack.processes[name].tail()}"

        # The purge finishes: everything doomed is due by now, the worker keeps ticking.
        deadline = time.monotonic() + PURGE_WAIT
        check = (
            f"from tests.scale.test_crash_drill import pending_purges as p; p({str(doomed_path)!r})"
        )
        while int(stack.python(check)) and time.monotonic() < deadline:
            time.sleep(1)

        # Every upload that got its success answer downloads whole, from either node.
        for n, (patient, doc_id, sha256) in enumerate(tally.uploaded):
            content = visitors[patient].get(
                f"{nodes[n % 2]}/documents/{doc_id}/fichier/?telecharger=1"
            )
            assert content.status_code == 200, (doc_id, content.status_code)
            assert hashlib.sha256(content.content).hexdigest() == sha256, doc_id

        mails_path = stack.root / "messages.json"
        mails_path.write_text(json.dumps(sorted(tally.mailed)))
        state = json.loads(
            stack.python(
                "from tests.scale.test_crash_drill import stored_state as s; "
                f"s({str(doomed_path)!r}, {str(mails_path)!r})"
            )
        )

        # The figures of the run, before the checks (shown with -s, kept in the stack's root).
        tick_failures = len(stack.processes["worker"].failures())
        figures = {
            "kills": dict(chaos.kills),
            "uploads_ok": len(tally.uploaded),
            "mails_ok": len(tally.mailed),
            "mail_copies": sum(len(c) for c in state["copies"].values()),
            "failed_attempts": {f"{w}:{r}": c for (w, r), c in tally.failed.items()},
            "unexpected_answers": len(tally.unexpected),
            "tick_failures": tick_failures,
            "purged": sum(state["purges"].values()),
            "orphans_from_drill": len(set(state["orphans_before"]) - {planted}),
            "orphans_removed": state["orphans_removed"],
            "objects": state["objects"],
            "load_seconds": round(load_seconds, 1),
            "chaos_seconds": round(chaos_seconds, 1),
            "restart_seconds_max": round(max(chaos.restarts, default=0), 1),
            "seconds_so_far": round(time.monotonic() - began, 1),
        }
        print(json.dumps(figures))
        (stack.root / "exercice.json").write_text(json.dumps(figures))

        # Every mail acknowledged 250 is in its patient's messages, its attachment whole
        # (downloaded as the patient). A mail whose 250 was lost to a crash and sent again
        # may be there twice: each copy must be whole.
        by_email = {p["email"]: k for k, p in enumerate(patients)}
        for message_id, (email, filename, sha256) in tally.mailed.items():
            copies = state["copies"].get(message_id, [])
            assert copies, f"message {message_id} acquitté mais absent"
            for copy in copies:
                assert copy["email"] == email, message_id
                assert copy["body"].startswith("Bonjour,"), message_id
                [(attachment_id, stored_name, _)] = copy["attachments"]
                assert stored_name == filename, message_id
                content = visitors[by_email[email]].get(
                    f"{nodes[0]}/messagerie/piece-jointe/{attachment_id}/?telecharger=1"
                )
                assert content.status_code == 200, (message_id, content.status_code)
                assert hashlib.sha256(content.content).hexdigest() == sha256, message_id

        # No row points to a missing object; the sweep left only referenced ones, the
        # planted leftover included.
        assert state["missing"] == [], state["missing"]
        assert planted in state["orphans_before"]
        assert state["orphans_removed"] >= 1
        assert state["unreferenced"] == [], state["unreferenced"]

        # The purge is done, each document purged once, rows and objects gone.
        assert state["doomed_rows"] == 0
        assert state["purges"] == {d["id"]: 1 for d in doomed}
        assert state["doomed_blobs"] == []

        # The sweeps never failed (a failure is logged and tried again at the next tick).
        assert tick_failures == 0, stack.processes["worker"].tail()

        verified = stack.carnet("audit", "verify")
        assert "trace d'audit intègre" in verified.stdout

        # The clients saw only crashes' failures, and every item got through in the end.
        assert tally.unexpected == [], tally.unexpected[:10]
        assert tally.given_up == [], tally.given_up[:10]
        assert len({doc_id for _, doc_id, _ in tally.uploaded}) == UPLOADS
        assert len(tally.mailed) == MAILS
        # The drill did happen: each process was killed, several times.
        assert all(chaos.kills[name] >= KILLS_EACH for name in VICTIMS), chaos.kills
