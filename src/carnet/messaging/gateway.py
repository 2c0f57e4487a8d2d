"""The SMTP gateway (`carnet smtpd`): professionals' mail in, as messages of the patients' spaces.

aiosmtpd runs the protocol on an asyncio loop in its own thread; every database step runs in a
small thread pool (Django's ORM is synchronous), awaited by the loop:

- STARTTLS is required before anything but EHLO/HELO/NOOP/QUIT (530 otherwise), AUTH (PLAIN,
  LOGIN) only over TLS, and every MAIL needs AUTH (530): the gateway relays nothing;
- login: the professional's RPPS; password: their gateway credential
  (`gateway_services.credential_create`); a failure costs SMTPD_AUTH_FAILURE_DELAY seconds;
- MAIL FROM: the professional's registered messaging address (550 otherwise);
- RCPT TO: an active patient address that the professional may write to (550 otherwise);
- SIZE is announced and enforced (552);
- DATA: the mail is written (committed) before 250 is answered; a failure of ours is 451, so
  the sender keeps the mail and tries again: an acknowledged mail is never lost.
See docs/adr/0016-smtp-gateway.md.
"""

import asyncio
import functools
import logging
import ssl
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, syntax
from django.conf import settings
from django.db import connections

from carnet.documents.checker import CheckerSession

from . import gateway_services as gs
from .services import MessagingError

log = logging.getLogger(__name__)

BANNER = "Carnet messagerie de sante - n'indiquez aucune information de sante dans l'objet"


def smtp_reply(code: str, status: str, text: str) -> str:
    """An SMTP answer line in ASCII (replies are not UTF-8 unless SMTPUTF8 was negotiated)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return f"{code} {status} {' '.join(ascii_text.split())}"


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


def _capture(server, session, envelope, mechanism, auth_data) -> AuthResult:
    """aiosmtpd's own PLAIN and LOGIN parse the exchange and call this synchronously, on the
    loop: it only hands the login and password over; the check is `Gateway._checked`."""
    return AuthResult(success=True, auth_data=auth_data)


def _in_thread(fn, *args, **kwargs):
    """`fn` in a database thread. The thread keeps its connection from one call to the next
    (opening one costs more than most calls); Django still closes one that failed or was left
    in a transaction."""
    try:
        return fn(*args, **kwargs)
    finally:
        for connection in connections.all(initialized_only=True):
            connection.close_at = None  # no age limit in these threads: they live with the server
            # Checked before its next use: after a database restart or failover, replaced.
            connection.health_check_enabled = True
            connection.close_if_unusable_or_obsolete()


def _close_connections(barrier: threading.Barrier) -> None:
    connections.close_all()
    barrier.wait(timeout=10)  # holds this thread, so that each thread closes its own


class Gateway:
    """The aiosmtpd handler (hooks `handle_*`, mechanisms `auth_*`)."""

    def __init__(self, threads: int | None = None):
        self.threads = threads or settings.SMTPD_DB_THREADS
        self.executor = ThreadPoolExecutor(self.threads, thread_name_prefix="smtpd-db")

    def close(self) -> None:
        """Close each database thread's connection, then the threads."""
        barrier = threading.Barrier(self.threads)
        waits = [self.executor.submit(_close_connections, barrier) for _ in range(self.threads)]
        for wait in waits:
            try:
                wait.result(timeout=15)
            except (threading.BrokenBarrierError, TimeoutError):
                pass  # a thread stuck elsewhere: its connection ends with the process
        self.executor.shutdown(wait=True)

    async def _db(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        call = functools.partial(_in_thread, fn, *args, **kwargs)
        return await loop.run_in_executor(self.executor, call)

    # --- AUTH ----------------------------------------------------------------------------

    async def auth_PLAIN(self, server, args):  # noqa: N802 (aiosmtpd API)
        return await self._checked(server, await SMTP.auth_PLAIN(server, None, args))

    async def auth_LOGIN(self, server, args):  # noqa: N802 (aiosmtpd API)
        return await self._checked(server, await SMTP.auth_LOGIN(server, None, args))

    async def _checked(self, server, result: AuthResult) -> AuthResult:
        if not result.success:
            return result
        login, password = result.auth_data
        try:
            login, password = login.decode(), password.decode()
        except UnicodeDecodeError:
            professional = None
        else:
            try:
                professional = await self._db(gs.credential_check, login, password)
            except Exception:  # ours (database down…): a temporary failure, nothing told
                log.exception("smtpd: credential check failed")
                await server.push(smtp_reply("454", "4.7.0", "Erreur temporaire : reessayez."))
                return AuthResult(success=False, handled=True)
        if professional is None:
            log.info("smtpd: failed AUTH from %s", server.session.peer[0])
            await asyncio.sleep(settings.SMTPD_AUTH_FAILURE_DELAY)
            return AuthResult(success=False, handled=False)
        server.session.carnet_professional = professional
        return AuthResult(success=True, auth_data=professional.pk)

    # --- The envelope --------------------------------------------------------------------

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        professional = getattr(session, "carnet_professional", None)
        if professional is None:  # auth_required already answered 530; never relay
            return smtp_reply("530", "5.7.0", "Authentification requise.")
        if not gs.sender_allowed(professional, address):
            return smtp_reply(
                "550",
                "5.7.1",
                "L'expediteur doit etre votre adresse de messagerie enregistree.",
            )
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        professional = session.carnet_professional
        if len(envelope.rcpt_tos) >= settings.SMTPD_MAX_RECIPIENTS:
            most = settings.SMTPD_MAX_RECIPIENTS
            return smtp_reply("452", "4.5.3", f"Au plus {most} destinataires.")
        try:
            space = await self._db(gs.recipient_check, professional, address)
        except gs.DeliveryRefused as exc:
            return smtp_reply("550", exc.status, str(exc))
        except Exception:
            log.exception("smtpd: recipient check failed")
            return smtp_reply("451", "4.3.0", "Erreur temporaire : reessayez plus tard.")
        if any(known.lower() == address.lower() for known in envelope.rcpt_tos):
            return "250 2.1.5 OK"  # the same recipient twice: one message
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        if not hasattr(envelope, "carnet_spaces"):
            envelope.carnet_spaces = {}
        envelope.carnet_spaces[address] = space  # DATA reads only its state again
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        professional = session.carnet_professional
        try:
            written = await self._db(
                gs.mail_deliver,
                professional=professional,
                recipients=list(envelope.rcpt_tos),
                content=envelope.original_content,
                client=f"smtp:{session.peer[0]}",
                spaces=getattr(envelope, "carnet_spaces", {}),
                session=getattr(session, "carnet_checker", None),
            )
        except gs.DeliveryRefused as exc:
            return smtp_reply("550", exc.status, str(exc))
        except MessagingError as exc:
            return smtp_reply("554", "5.6.0", str(exc))
        except Exception:  # ours: the sender keeps the mail and retries
            log.exception("smtpd: delivery failed")
            return smtp_reply("451", "4.3.0", "Erreur temporaire : reessayez plus tard.")
        log.info("smtpd: mail from professional %s delivered to %s", professional.pk, len(written))
        return "250 2.0.0 Message remis"


# --- DATA, read in blocks ----------------------------------------------------------------

DATA_END = b".\r\n"  # ends the data when it starts a line (RFC 5321 § 4.1.1.4)


async def data_read(reader: asyncio.StreamReader, *, size_limit: float, line_limit: int):
    """The data of a DATA command, read up to its end as aiosmtpd does, but in blocks.

    aiosmtpd awaits the stream once per line: about 1 800 times for a 100 KB attachment in
    base64, a third of the gateway's time per mail. Here the stream is searched for ".\r\n"
    (base64 has no dot), the end being the one that starts a line. Same results: the lines
    with their CRLF, the end line not included, the leading dot of a line removed (§ 4.5.2);
    ("too_much", b"") past `size_limit` bytes and ("too_long", b"") for a line longer than
    `line_limit` bytes (CRLF included), both after the data was read to its end (§ 4.2.5), and
    nothing kept once past the size limit. Data past both limits gets the refusal of the one
    it passed first. Returns (state, content): state "ok", "too_much" or "too_long"."""
    kept: list[bytes] = []
    size = 0
    refusal = None
    before = b"\r\n"  # the last bytes read: the DATA line ended with a CRLF
    while True:
        try:
            block = await reader.readuntil(DATA_END)
            found = True
        except asyncio.LimitOverrunError as exc:  # a block longer than the stream's limit
            block = await reader.readexactly(exc.consumed)
            found = False
        ended = found and (before[-2:] + block[:-3])[-2:] == b"\r\n"
        if ended:
            block = block[:-3]
        size += len(block)
        if refusal is None and size > size_limit:  # passed now: which limit first?
            data = b"".join([*kept, block])
            too_long = _line_too_long_before(data, int(size_limit), line_limit)
            refusal = "too_long" if too_long else "too_much"
        if refusal is None:
            kept.append(block)
        else:
            kept.clear()
        if not ended:
            before = block[-2:] if len(block) >= 2 else before[-1:] + block
        else:
            break
    if refusal is not None:
        return refusal, b""
    content = b"".join(kept)
    if content and max(map(len, content.split(b"\r\n"))) + 2 > line_limit:
        return "too_long", b""
    # Transparency: the first dot of a line that starts with one is removed.
    if content.startswith(b"."):
        content = content[1:]
    return "ok", content.replace(b"\r\n.", b"\r\n")


def _line_too_long_before(data: bytes, end: int, line_limit: int) -> bool:
    """Does a line of `data` pass `line_limit` bytes (CRLF included) before offset `end`?"""
    start = 0
    while start < end:
        newline = data.find(b"\r\n", start)
        line_end = len(data) if newline < 0 else newline + 2
        if line_end - start > line_limit and start + line_limit < end:
            return True
        if newline < 0:
            return False
        start = newline + 2
    return False


class GatewaySMTP(SMTP):
    """aiosmtpd's protocol, its DATA read in blocks (`data_read`); each connection has its
    own child of the checker for the mails of its professional (`checker.CheckerSession`)."""

    def _create_session(self):
        previous = getattr(self, "session", None)  # STARTTLS starts a new session
        if previous is not None:
            previous.carnet_checker.close()
        session = super()._create_session()
        session.carnet_checker = CheckerSession(settings.SMTPD_CHECKS_PER_CHILD)
        return session

    def connection_lost(self, error):
        session = getattr(self, "session", None)
        if session is not None:
            session.carnet_checker.close()  # its child leaves
        super().connection_lost(error)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 (aiosmtpd API)
        if self._decode_data:  # the gateway reads bytes; anything else as aiosmtpd does
            return await super().smtp_DATA(arg)
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            state, content = await data_read(
                self._reader,
                size_limit=self.data_size_limit or float("inf"),
                line_limit=self.line_length_limit,
            )
        except asyncio.IncompleteReadError:  # the client left during DATA
            self._writer.close()
            return
        except asyncio.CancelledError:  # the connection was reset during DATA
            self._writer.close()
            raise
        if state != "ok":
            too_long = state == "too_long"
            await self.push(
                "500 Line too long (see RFC5321 4.5.3.1.6)"
                if too_long
                else "552 Error: Too much mail data"
            )
            self._set_post_data_state()
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA") if "DATA" in self._handle_hooks else MISSING
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class SharedPortController(Controller):
    """aiosmtpd's Controller, its listening socket opened with SO_REUSEPORT when asked: several
    processes then listen on the same port and the kernel spreads the connections."""

    def __init__(self, *args, reuse_port: bool = False, smtp_class=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.reuse_port = reuse_port
        self.smtp_class = smtp_class or GatewaySMTP

    def _create_server(self):
        return self.loop.create_server(
            self._factory_invoker,
            host=self.hostname,
            port=self.port,
            ssl=self.ssl_context,
            reuse_port=self.reuse_port or None,
        )

    def factory(self):
        return self.smtp_class(self.handler, **self.SMTP_kwargs)

    def stop(self, *args, **kwargs):
        super().stop(*args, **kwargs)
        if isinstance(self.handler, Gateway):
            self.handler.close()

    def _trigger_server(self):
        # aiosmtpd checks at start that its SMTP factory works by connecting to its own port:
        # with a shared port, the kernel may hand that connection to a sibling process, and
        # this one would wait for it in vain. The factory is then called on the loop directly.
        if not self.reuse_port:
            super()._trigger_server()
            return
        self.loop.call_soon_threadsafe(self._factory_invoker)


def gateway_controller(
    *,
    host: str | None = None,
    port: int | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    max_bytes: int | None = None,
    handler: Gateway | None = None,
    reuse_port: bool = False,
) -> Controller:
    """The gateway, ready to `start()` (in its own thread) and `stop()`."""
    # aiosmtpd logs every envelope address at INFO: patient addresses hold the INS (NIR).
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    cert_file = cert_file or settings.SMTPD_TLS_CERT
    key_file = key_file or settings.SMTPD_TLS_KEY
    if not (cert_file and key_file):
        raise MessagingError(
            "La passerelle SMTP exige un certificat TLS : définissez CARNET_SMTPD_TLS_CERT et "
            "CARNET_SMTPD_TLS_KEY."
        )
    return SharedPortController(
        handler or Gateway(),
        reuse_port=reuse_port,
        hostname=host or settings.SMTPD_HOST,
        port=port or settings.SMTPD_PORT,
        ident=BANNER,
        tls_context=tls_context(cert_file, key_file),
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=_capture,
        data_size_limit=max_bytes or settings.SMTPD_MAX_BYTES,
        enable_SMTPUTF8=False,
    )
