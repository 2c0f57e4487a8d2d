"""Benchmark: professionals' mails with a ~100 KB PDF attachment through the SMTP gateway
(`carnet smtpd`), against a bare aiosmtpd server that only counts them, in the same run.

    .venv/bin/python bench/messaging.py [--messages M] [--clients C] [--patients N]
                                        [--processes P] [--profile]

Sets up a fresh SQLite database and blob directory in a temporary directory, activates N
synthetic persons' spaces through the enrollment services, creates C professionals (one per
client) with a messaging address, an `Authorisation` row on every space and a gateway credential
(`gateway_services.credential_create`), and writes one real PDF of about 100 KB (fpdf2, pages of
text). Each server runs in P processes of its own sharing one port (SO_REUSEPORT), apart from
the clients: the gateway is `carnet smtpd --processes P`, started as an operator does; the bare
server is aiosmtpd in P forked processes. Both listen on 127.0.0.1 with the same self-signed
certificate (`cryptography`) and the same settings: STARTTLS required, AUTH (PLAIN) required
and only over TLS, the same SIZE limit. The bare server accepts the same logins and passwords
(checked against a dict) and every envelope, and counts what DATA hands it; the gateway checks
the credential (keyed hash), the sender, the recipient (consent), and writes each mail as an
encrypted message with its attachment checked in a child of the checker process
(`file_check_isolated`) and stored as an encrypted blob, committed before 250.

M mails, prepared in advance as bytes (the same for both servers: a short text, the PDF, a
fresh Message-ID each, to the N patients in turn), are sent by C threads, each over its own
SMTP connection (connect, EHLO, STARTTLS, EHLO, AUTH, then its M/C mails, then QUIT): the
bare server first, then the gateway. Wall times include the connections. Afterwards the
gateway's Message and Attachment rows are counted (M of each expected) and the bare server's
count checked.

Target: gateway messages/s at least 0.3 × the bare server's. With --profile, the gateway run is
followed by a cProfile of `mail_deliver` on a few of the mails, called directly (stderr).
Prints one JSON line on stdout; progress goes to stderr.
"""

import datetime
import ipaddress
import logging
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from datetime import date
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from _common import argument_parser, log, result_print, throwaway_carnet

RATIO_TARGET = 0.3  # gateway / bare messages per second, at least
ATTACHMENT_BYTES = 100_000  # at least
PRO_DOMAIN = "medecin.mssante.exemple.fr"
TEXT = "Bonjour,\n\nVeuillez trouver ci-joint le compte rendu de la consultation.\n\nDr Fictif"
WORDS = (
    "patient glycemie bilan sanguin hemoglobine creatinine controle traitement posologie "
    "consultation examen resultat normal tension ferritine cholesterol suivi"
).split()


# --- Setup -------------------------------------------------------------------------------------


def tls_pair(folder: Path) -> tuple[str, str]:
    """A self-signed certificate and its key for 127.0.0.1 / localhost (as the tests)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def pdf_of(pages: int) -> bytes:
    import random

    from fpdf import FPDF

    rng = random.Random(20261126)
    pdf = FPDF()
    pdf.set_font("helvetica", size=9)
    for page in range(pages):
        pdf.add_page()
        title = f"Compte rendu de consultation - page {page + 1}"
        pdf.cell(text=title, new_x="LMARGIN", new_y="NEXT")
        for _ in range(60):
            line = " ".join(f"{rng.choice(WORDS)}{rng.randint(0, 999)}" for _ in range(12))
            pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def attachment_pdf(at_least: int) -> bytes:
    """A real PDF of at least `at_least` bytes (and not much more): pages of text."""
    pages = max(1, at_least // len(pdf_of(1)))
    data = pdf_of(pages)
    while len(data) < at_least:
        pages += 1
        data = pdf_of(pages)
    return data


def patients(n: int) -> list:
    """N persons with an active space, through the enrollment services (as synthetic_space)."""
    from carnet.core.validators import nir_key
    from carnet.enrollment import services
    from carnet.enrollment.selectors import space_for_user
    from carnet.registry.models import InsuredPerson

    spaces = []
    for i in range(1, n + 1):
        first13 = f"2800575112{i:03d}"
        person = InsuredPerson.objects.create(
            nir=f"{first13}{nir_key(first13):02d}",
            last_name=f"PATIENTE{i}",
            first_name="Anne",
            birth_date=date(1980, 5, 17),
            sex="F",
            vitale_serial=f"12345{i:06d}",
            vitale_photo=True,
            email=f"banc.messagerie.{i}@exemple.fr",
            mobile=f"+336100{i:05d}",
        )
        [(person, code, _)] = services.codes_issue([person])
        identified = services.identification_check(
            code=code,
            nir=person.nir,
            birth_date=person.birth_date,
            vitale_photo=True,
            vitale_serial=person.vitale_serial,
            client="127.0.0.1",
        )
        user = services.space_activate(
            identified=identified,
            credentials=services.Credentials(
                identifier=f"banc.messagerie.{i}",
                password=f"banc d'essai de la messagerie {i} 2026",
                email=person.email,
                email_verified=True,
                mobile=person.mobile,
                mobile_verified=True,
            ),
            client="127.0.0.1",
        )
        spaces.append(space_for_user(user))
    return spaces


def professionals(count: int, spaces: list) -> list[tuple]:
    """(professional, secret) of `count` médecins, each authorised on every space."""
    from carnet.accounts.models import User
    from carnet.consent.models import Authorisation
    from carnet.core import clock
    from carnet.core.validators import rpps_key
    from carnet.messaging.gateway_services import credential_create
    from carnet.professionals.models import Professional

    now = clock.now()
    result = []
    for n in range(1, count + 1):
        first10 = f"10{n:08d}"
        account = User.objects.create_user(f"banc.pro.{n:03d}", None, kind=User.Kind.PROFESSIONAL)
        pro = Professional.objects.create(
            rpps=f"{first10}{rpps_key(first10)}",
            last_name=f"FICTIF{n}",
            first_name="Claire",
            profession="medecin",
            specialty="Médecine générale",
            user=account,
            messaging_address=f"claire.fictif{n}@{PRO_DOMAIN}",
            imported_at=now,
            updated_at=now,
        )
        for space in spaces:
            Authorisation.objects.create(space=space, professional=pro, attested_at=now)
        result.append((pro, credential_create(pro)))
    return result


def mails(count: int, senders: list, addresses: list[str], pdf: bytes) -> list[list[tuple]]:
    """The mails as bytes, per client: client k sends as senders[k], to the patients in turn."""
    per_client = [[] for _ in senders]
    for i in range(count):
        k = i % len(senders)
        sender, recipient = senders[k], addresses[i % len(addresses)]
        message = EmailMessage()
        message["From"] = f"Dr Claire Fictif <{sender}>"
        message["To"] = recipient
        message["Subject"] = f"Compte rendu de consultation {i + 1}"
        message["Message-ID"] = make_msgid(domain=PRO_DOMAIN)
        message.set_content(TEXT)
        message.add_attachment(
            pdf, maintype="application", subtype="pdf", filename=f"compte-rendu-{i + 1}.pdf"
        )
        data = message.as_bytes(policy=policy.SMTP)  # CRLF line ends, as send_message
        per_client[k].append((sender, recipient, data))
    return per_client


# --- The servers -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Counter:
    """The bare server's handler: accepts every envelope, counts the mails (shared counter)."""

    def __init__(self, counted):
        self.counted = counted

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        with self.counted.get_lock():
            self.counted.value += 1
        return "250 2.0.0 OK"


def bare_serve(port, cert_file, key_file, logins, counted, ready, stop) -> None:
    """One process of the bare server: aiosmtpd as it comes (its own SMTP protocol class, not
    the gateway's, which reads DATA in blocks) with the gateway's settings (TLS context,
    STARTTLS and AUTH required, SIZE, the shared port), an authenticator checking a dict, and a
    handler that only counts."""
    from aiosmtpd.smtp import SMTP, AuthResult
    from django.conf import settings

    from carnet.messaging.gateway import BANNER, SharedPortController, tls_context

    logging.getLogger("mail.log").setLevel(logging.ERROR)  # AUTH's deprecation warnings

    def authenticator(server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        return AuthResult(success=logins.get(login) == password)

    controller = SharedPortController(
        Counter(counted),
        hostname="127.0.0.1",
        port=port,
        reuse_port=True,
        smtp_class=SMTP,
        ident=BANNER,
        tls_context=tls_context(cert_file, key_file),
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
        data_size_limit=settings.SMTPD_MAX_BYTES,
        enable_SMTPUTF8=False,
    )
    controller.start()
    ready.release()
    stop.wait()
    controller.stop()


class BareServer:
    """The bare server in `processes` forked processes sharing one port."""

    def __init__(self, processes: int, cert_file: str, key_file: str, logins: dict):
        import multiprocessing

        from django.db import connections

        connections.close_all()  # not shared with the children
        context = multiprocessing.get_context("fork")
        self.port = _free_port()
        self.counted = context.Value("q", 0)
        self.ready = context.Semaphore(0)
        self.stop_event = context.Event()
        arguments = (self.port, cert_file, key_file, logins, self.counted, self.ready)
        self.processes = [
            context.Process(target=bare_serve, args=(*arguments, self.stop_event))
            for _ in range(processes)
        ]
        for process in self.processes:
            process.start()
        for _ in self.processes:
            if not self.ready.acquire(timeout=30):
                raise RuntimeError("the bare server did not start")

    @property
    def count(self) -> int:
        return self.counted.value

    def stop(self) -> None:
        self.stop_event.set()
        for process in self.processes:
            process.join(30)


class GatewayServer:
    """`carnet smtpd --processes N` on a free port, as an operator starts it."""

    def __init__(self, processes: int, cert_file: str, key_file: str):
        self.port = _free_port()
        environ = {
            **os.environ,
            "CARNET_SMTPD_TLS_CERT": cert_file,
            "CARNET_SMTPD_TLS_KEY": key_file,
        }
        command = [sys.executable, "-m", "carnet.cli", "smtpd", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--processes", str(processes)]
        self.process = subprocess.Popen(command, env=environ, stdout=sys.stderr)  # noqa: S603
        deadline = time.monotonic() + 60
        while True:  # listening when it answers its banner (every process: bound before)
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as smtp:
                    smtp.noop()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("carnet smtpd did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


# --- Sending -----------------------------------------------------------------------------------


def _client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the benchmark's self-signed certificate
    return context


def send_all(port: int, per_client: list[list[tuple]], logins: list[tuple[str, str]]) -> dict:
    """Each client in its own thread, over one connection: its mails in turn. Wall seconds from
    the threads' start to the last one's end; the refusals (each must be none)."""
    errors: list[str] = []
    start = threading.Barrier(len(per_client) + 1)

    def client(k: int) -> None:
        login, password = logins[k]
        start.wait()
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                smtp.ehlo("cabinet.exemple.fr")
                smtp.starttls(context=_client_context())
                smtp.ehlo("cabinet.exemple.fr")
                smtp.login(login, password)
                for sender, recipient, data in per_client[k]:
                    refused = smtp.sendmail(sender, [recipient], data)
                    if refused:
                        errors.append(f"client {k}: {refused}")
        except Exception as exc:  # noqa: BLE001 (reported, and the run fails)
            errors.append(f"client {k}: {exc!r}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(per_client))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    sent = sum(len(mails) for mails in per_client)
    return {
        "seconds": round(seconds, 3),
        "messages_per_s": round(sent / seconds, 1),
        "errors": errors[:5],
    }


def _fork_exit() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def profile_deliver(pro, per_client: list[list[tuple]], runs: int) -> None:
    """cProfile of `mail_deliver` called directly on a few mails (top lines to stderr), and the
    time of its parts alone."""
    import cProfile
    import io
    import pstats

    from carnet.documents.files import file_check, file_check_isolated
    from carnet.messaging.gateway_services import mail_deliver, mail_parse

    mails_of_pro = per_client[0][:runs]
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for _, recipient, data in mails_of_pro:
        mail_deliver(professional=pro, recipients=[recipient], content=data, client="smtp:bench")
    profiler.disable()
    per_mail = (time.perf_counter() - began) / len(mails_of_pro)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    log(out.getvalue())

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, recipient, data = per_client[0][runs]
    with CaptureQueriesContext(connection) as queries:
        mail_deliver(professional=pro, recipients=[recipient], content=data, client="smtp:bench")
    log(f"{len(queries)} statements for one mail:")
    for query in queries:
        log("  " + query["sql"][:160])

    pdf = mail_parse(data).files[0].data
    parts = {}
    for name, function in (
        ("mail_deliver", None),
        ("mail_parse (check in a child)", lambda: mail_parse(data)),
        ("file_check_isolated", lambda: file_check_isolated("cr.pdf", pdf)),
        ("file_check (in process)", lambda: file_check("cr.pdf", pdf)),
        ("os.fork + os._exit + waitpid", _fork_exit),
    ):
        if function is None:
            parts[name] = per_mail
            continue
        function()
        began = time.perf_counter()
        for _ in range(runs):
            function()
        parts[name] = (time.perf_counter() - began) / runs
    with open("/proc/self/statm") as statm:
        resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    log(f"  resident memory of the process: {resident / 2**20:.0f} MiB")
    log("  per mail (ms): " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in parts.items()))


# --- Main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--messages", type=int, default=600, help="mails sent to each server")
    parser.add_argument("--clients", type=int, default=4, help="concurrent SMTP clients")
    parser.add_argument("--patients", type=int, default=20, help="recipients' spaces")
    parser.add_argument(
        "--processes", type=int, default=1, help="processes of each server (one shared port)"
    )
    parser.add_argument("--profile", action="store_true", help="profile mail_deliver after")
    args = parser.parse_args()

    began = time.perf_counter()
    with throwaway_carnet("messaging", keep=args.keep, CARNET_LOG_LEVEL="WARNING") as tmp:
        from carnet.messaging.models import Attachment, Message
        from carnet.messaging.services import patient_address

        log(f"activating {args.patients} spaces…")
        spaces = patients(args.patients)
        log(f"{args.clients} professionals with their credentials…")
        pros = professionals(args.clients, spaces)
        pdf = attachment_pdf(ATTACHMENT_BYTES)
        log(f"a {len(pdf)}-byte PDF; preparing {args.messages} mails…")
        per_client = mails(
            args.messages,
            [pro.messaging_address for pro, _ in pros],
            [patient_address(space) for space in spaces],
            pdf,
        )
        logins = [(pro.rpps, secret) for pro, secret in pros]
        cert_file, key_file = tls_pair(tmp / "tls")

        bare = BareServer(args.processes, cert_file, key_file, dict(logins))
        try:
            gateway = GatewayServer(args.processes, cert_file, key_file)
        except BaseException:
            bare.stop()
            raise
        try:
            # The bare server before and after the gateway (the machine's load may change).
            log("sending to the bare server…")
            bare_runs = [send_all(bare.port, per_client, logins)]
            log(f"  bare: {bare_runs[-1]}")
            log("sending to the gateway…")
            gateway_run = send_all(gateway.port, per_client, logins)
            log(f"  gateway: {gateway_run}")
            log("sending to the bare server again…")
            bare_runs.append(send_all(bare.port, per_client, logins))
            log(f"  bare: {bare_runs[-1]}")
        finally:
            bare.stop()
            gateway.stop()
        bare_seconds = sum(run["seconds"] for run in bare_runs) / len(bare_runs)
        bare_run = {
            "seconds": round(bare_seconds, 3),
            "messages_per_s": round(args.messages / bare_seconds, 1),
            "runs": [{k: run[k] for k in ("seconds", "messages_per_s")} for run in bare_runs],
            "errors": [e for run in bare_runs for e in run["errors"]][:5],
        }

        stored = {
            "messages": Message.objects.filter(channel=Message.Channel.SMTP).count(),
            "attachments": Attachment.objects.filter(
                message__channel=Message.Channel.SMTP, blob__isnull=False, size=len(pdf)
            ).count(),
            "bare_counted": bare.count,
        }
        if args.profile:
            log("profiling mail_deliver…")
            profile_deliver(pros[0][0], per_client, runs=10)

        ratio = gateway_run["messages_per_s"] / bare_run["messages_per_s"]
        complete = (
            stored["messages"] == stored["attachments"] == args.messages
            and stored["bare_counted"] == len(bare_runs) * args.messages
            and not gateway_run["errors"]
            and not bare_run["errors"]
        )
        result_print(
            {
                "messages": args.messages,
                "clients": args.clients,
                "processes": args.processes,
                "patients": args.patients,
                "attachment_bytes": len(pdf),
                "mail_bytes": len(per_client[0][0][2]),
                "gateway": gateway_run,
                "bare": bare_run,
                "ratio": round(ratio, 3),
                "target_met": ratio >= RATIO_TARGET,
                "stored": stored,
                "complete": complete,
                "seconds_total": round(time.perf_counter() - began, 1),
            }
        )


if __name__ == "__main__":
    main()
