"""A professional's mail read into what a message needs: subject, text, threading ids and
attachments, each attachment checked like an upload (`documents.files.file_check`).

Pure (no database, no Django models): `mail_check_job` runs in a child of the checker process
(`documents.checker`), bounded in CPU, memory and time like a file check — the MIME parser and
the file checks read what a stranger sent, and together they are most of a mail's cost, which
then runs beside the gateway rather than under its interpreter lock. See ADR 0016.
"""

import json
import re
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage as MimeMessage
from email.parser import BytesParser
from html.parser import HTMLParser

import nh3

NO_SUBJECT = "(Sans objet)"
NO_TEXT = "(Message sans texte)"
MESSAGE_ID_MAX = 255
# The HTML kept by nh3 before it is turned into text: structure and links only (no images,
# no styles, no scripts: their content is dropped with them).
HTML_TAGS = {"a", "p", "br", "div", "li", "ul", "ol", "tr", "td", "th", "table", "blockquote"}
HTML_TAGS |= {"h1", "h2", "h3", "h4", "h5", "h6", "pre", "span", "b", "i", "strong", "em"}
BLOCK_TAGS = {"p", "div", "li", "tr", "table", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"}
BLOCK_TAGS |= {"pre", "ul", "ol"}


class _RawHeadersMessage(MimeMessage):
    """The modern API over raw headers: `is_attachment` reads Content-Disposition as text (the
    stock one expects the default policy's header objects)."""

    def is_attachment(self):
        return self.get_content_disposition() == "attachment"


# The mail's structure with the modern API (get_body, iter_attachments), its headers kept raw
# (compat32): the default policy parses every header into objects, again at each access — a
# third of the parse for a mail with one attachment. Only the subject needs decoding.
PARSING = policy.compat32.clone(message_factory=_RawHeadersMessage)
# What the check of a mail reads from settings.CARNET (sent with each check).
CHECK_SETTINGS = ("MESSAGE_MAX_FILES", "MESSAGE_MAX_BYTES")


class MailRefused(ValueError):
    """The whole mail is refused; the text is for the sender, `status` the SMTP status."""

    def __init__(self, message: str, *, status: str = "5.6.0"):
        super().__init__(message)
        self.status = status


@dataclass
class Reading:
    subject: str
    body: str
    message_id: str
    references: list[str]
    # (name, bytes, media type, extension) accepted; (name, reason) refused
    files: list[tuple[str, bytes, str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


class _TextOfHtml(HTMLParser):
    """Sanitised HTML (nh3) to plain text: blocks on their own lines, a link as
    "text <address>" (shown, never loaded)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag):
        if tag in BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href:
                self.parts.append(f" <{href}>")

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    """HTML from a mail reduced to safe text: nh3 removes scripts, styles, images and every
    attribute but links' addresses (http, https, mailto); what is left becomes text."""
    clean = nh3.clean(
        markup,
        tags=HTML_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
    )
    parser = _TextOfHtml()
    parser.feed(clean)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _ids(value) -> list[str]:
    return re.findall(r"<[^<>\s\x00-\x1f\x7f]{1,250}>", str(value or ""))


def _text_of(payload: bytes, declared: str) -> str:
    if declared in ("us-ascii", "ascii"):
        # No charset, or ASCII declared with 8-bit bytes (swaks and many scripts send UTF-8
        # so): UTF-8 when the bytes are UTF-8, else Latin-1, the old mail default.
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload.decode("latin-1")
    try:
        return payload.decode(declared, "replace")
    except (LookupError, ValueError):  # unknown charset, or one that cannot "replace" (idna…)
        return payload.decode("utf-8", "replace")


def _body_of(mail: MimeMessage) -> str:
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    content = _text_of(payload, (part.get_content_charset() or "us-ascii").lower())
    if part.get_content_subtype() == "html":
        return html_to_text(content)
    return content


def _unescaped(raw: str) -> str:
    """A raw header as the parser keeps it (8-bit bytes as surrogates): its bytes read as UTF-8
    (else Latin-1), as mail clients that write raw UTF-8 headers mean them."""
    data = raw.encode("ascii", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _raw(message: MimeMessage, name: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return _unescaped(value)
    return None


def _decoded(value) -> str:
    """A header's text, its RFC 2047 encoded words decoded (an undecodable one left as is),
    without control characters (a NUL would not even be stored)."""
    text = str(value or "")
    try:
        text = str(make_header(decode_header(text)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        pass
    return CONTROL.sub(" ", text)


def _filename(part: MimeMessage) -> str:
    """The attachment's name (RFC 2231, RFC 2047, or raw UTF-8)."""
    holder = MimeMessage(policy=PARSING)
    for header in ("Content-Disposition", "Content-Type"):
        raw = _raw(part, header)
        if raw is not None:
            holder[header] = raw
    return _decoded(holder.get_filename())


def mail_read(content: bytes, check, *, subject_max: int, body_max: int, limits) -> Reading:
    """The mail read. Each attachment within the message's limits (count, total size) is passed
    to `check(name, data)` (a CheckedFile, or FileRefused with the reason; None: kept
    unchecked); with `check` None, all kept unchecked (media type and extension empty). Parts
    past the count are refused unchecked, and past twice the count only counted."""
    from carnet.documents.files import FileRefused, safe_file_name

    mail = BytesParser(policy=PARSING).parsebytes(content)
    subject = " ".join(_decoded(_raw(mail, "Subject")).split())[:subject_max] or NO_SUBJECT
    body = CONTROL.sub("", _body_of(mail).replace("\r\n", "\n")).strip() or NO_TEXT
    if len(body) > body_max:
        raise MailRefused(f"Le texte du message dépasse {body_max} caractères.", status="5.3.4")
    ids = _ids(mail.get("Message-ID"))
    message_id = ids[0] if ids and len(ids[0]) <= MESSAGE_ID_MAX else ""
    references = _ids(mail.get("In-Reply-To")) + list(reversed(_ids(mail.get("References"))))
    reading = Reading(subject, body, message_id, references)
    most = limits["MESSAGE_MAX_FILES"]
    total, parts, ignored = 0, 0, 0
    for part in mail.iter_attachments():
        parts += 1
        if parts > 2 * most:
            ignored += 1
            continue
        name = safe_file_name(_filename(part) or "piece-jointe")
        if parts > most:
            reading.refused.append((name, f"un message compte au plus {most} pièces jointes."))
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):  # a message/rfc822 or a multipart attached
            reading.refused.append((name, "ce type de pièce jointe n'est pas accepté."))
            continue
        if total + len(data) > limits["MESSAGE_MAX_BYTES"]:
            reading.refused.append((name, "les pièces jointes du message sont trop lourdes."))
            continue
        if check is None:
            reading.files.append((name, data, "", ""))
            total += len(data)
            continue
        try:
            checked = check(name, data)
        except FileRefused as exc:
            reading.refused.append((name, str(exc)))
            continue
        total += len(data)
        if checked is None:  # left to the caller (see `mail_check_job`)
            reading.files.append((name, data, "", ""))
            continue
        reading.files.append((name, data, checked.media_type, checked.extension))
    if ignored:
        reading.refused.append(
            (f"{ignored} autres pièces jointes", "ignorées : le message en compte trop.")
        )
    return reading


# --- In the checker's child -------------------------------------------------------------------


def mail_check_job(header: dict, content: bytes) -> bytes:
    """The report of a mail, read in the child (with `header["check"]`, its attachments
    checked in the same child): one line of JSON, then the kept files' bytes one after the
    other. A mail the reader fails on is refused (never a temporary error, which the sender
    would retry for days)."""
    from carnet.documents.files import file_check, native_decoder

    check = file_check if header.get("check", True) else None
    if check is not None and header.get("images_apart"):
        # A child that reads several senders' mails in turn (a session) leaves the files that
        # native code would decode (images, Pillow) unchecked: each is checked in a child of
        # its own, which nothing else will ever pass through.
        def check(name, data):
            return None if native_decoder(name) else file_check(name, data)

    try:
        reading = mail_read(
            content,
            check,
            subject_max=header["subject_max"],
            body_max=header["body_max"],
            limits=header["settings"],
        )
    except MailRefused as exc:
        return json.dumps({"refused_mail": str(exc), "status": exc.status}).encode() + b"\n"
    except Exception:  # noqa: BLE001 (a malformed mail: RecursionError, codec errors…)
        refusal = {"refused_mail": "Ce message n'a pas pu être lu.", "status": "5.6.0"}
        return json.dumps(refusal).encode() + b"\n"
    described = {
        "subject": reading.subject,
        "body": reading.body,
        "message_id": reading.message_id,
        "references": reading.references,
        "files": [[name, len(data), kind, ext] for name, data, kind, ext in reading.files],
        "refused": reading.refused,
    }
    return json.dumps(described).encode() + b"\n" + b"".join(f[1] for f in reading.files)


def mail_report_read(report: bytes | None) -> Reading:
    """The child's report back into a Reading (MailRefused as it refused); ValueError if there
    is no whole report (the child was stopped by its bounds, or crashed)."""
    if not report:
        raise ValueError("no report")
    head, _, rest = report.partition(b"\n")
    described = json.loads(head)
    if "refused_mail" in described:
        raise MailRefused(str(described["refused_mail"]), status=str(described["status"]))
    reading = Reading(
        str(described["subject"]),
        str(described["body"]),
        str(described["message_id"]),
        [str(i) for i in described["references"]],
    )
    at = 0
    for name, size, kind, ext in described["files"]:
        if not isinstance(size, int) or size < 0:
            raise ValueError("bad size")
        reading.files.append((str(name), rest[at : at + size], str(kind), str(ext)))
        at += size
    if at != len(rest):
        raise ValueError("report cut short")
    reading.refused = [(str(name), str(reason)) for name, reason in described["refused"]]
    return reading


def preload() -> None:
    """A small mail read once in the checker (what email and nh3 load at their first mail)."""
    from carnet.documents.files import file_check

    mail = MimeMessage()
    mail["Subject"] = "=?utf-8?q?R=C3=A9sultats?="
    mail.set_content("Bonjour")
    mail.add_alternative("<p>Bonjour <a href='https://exemple.fr'>lien</a></p>", subtype="html")
    mail.add_attachment(b"Resultat normal\n", maintype="text", subtype="plain", filename="a.txt")
    mail_read(
        mail.as_bytes(),
        file_check,
        subject_max=200,
        body_max=20_000,
        limits={"MESSAGE_MAX_FILES": 10, "MESSAGE_MAX_BYTES": 10_000_000},
    )
