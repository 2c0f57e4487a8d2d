"""The SMTP gateway (`carnet smtpd`): professionals' mail in, as messages of the patients' spaces.

aiosmtpd runs the protocol on an asyncio loop in its own thread; every database step runs in a
small thread pool (Django's ORM is synchronous), awaited by the loop:

- STARTTLS is required before anything but EHLO/HELO/NOOP/QUIT (530 otherwise), AUTH (PLAIN,
  LOGIN) only over TLS, and every MAIL needs AUTH (530): the gateway relays nothing;
- login: the professional's RPPS; password: their gateway credential
  (`gateway_services.credential_create`); a failure costs `AUTH_FAILURE_DELAY` seconds;
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
import unicodedata
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult
from django.conf import settings
from django.db import close_old_connections

from . import gateway_services as gs
from .services import MessagingError

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 20  # RCPT TO accepted in one mail
AUTH_FAILURE_DELAY = 1.0  # seconds, before answering a failed AUTH
DB_THREADS = 4
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
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


class Gateway:
    """The aiosmtpd handler (hooks `handle_*`, mechanisms `auth_*`)."""

    def __init__(self, executor: ThreadPoolExecutor | None = None):
        self.executor = executor or ThreadPoolExecutor(DB_THREADS, thread_name_prefix="smtpd-db")

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
            professional = await self._db(gs.credential_check, login, password)
        if professional is None:
            log.info("smtpd: failed AUTH from %s", server.session.peer[0])
            await asyncio.sleep(AUTH_FAILURE_DELAY)
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
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return smtp_reply("452", "4.5.3", f"Au plus {MAX_RECIPIENTS} destinataires.")
        try:
            await self._db(gs.recipient_check, professional, address)
        except gs.DeliveryRefused as exc:
            return smtp_reply("550", exc.status, str(exc))
        except Exception:
            log.exception("smtpd: recipient check failed")
            return smtp_reply("451", "4.3.0", "Erreur temporaire : reessayez plus tard.")
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
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


def gateway_controller(
    *,
    host: str | None = None,
    port: int | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    max_bytes: int | None = None,
    handler: Gateway | None = None,
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
    return Controller(
        handler or Gateway(),
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
