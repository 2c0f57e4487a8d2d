"""The ZIP of an export, produced as it is read (zipstream-ng), never held whole.

One folder per profile (« Prénom NOM »): `synthese.pdf`, `profil.fhir.json`, `agenda.ics`,
`historique.csv`, `documents/` (every live document the reader may see, decrypted, named
« AAAA-MM-JJ Titre.ext ») and `messages/` (one `.eml` a message, with its attachments); and a
`LISEZMOI.txt` at the root. Files are added and streamed one at a time: a document is read
(decrypted and verified by `core.blobs`) just before its entry is written and dropped after,
so memory holds one document, one message or one profile's small files at most, plus the ZIP's
central directory (names and sizes).
"""

import logging
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from django.conf import settings
from django.utils import timezone
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from carnet.core import blobs, clock
from carnet.core.keys import KeyDestroyed

log = logging.getLogger(__name__)

README = "LISEZMOI.txt"
DOCUMENTS_BATCH = 100  # documents' rows read at a time (their files one by one)
# Never in a file name: what Windows refuses, path separators, control characters.
UNSAFE = set('<>:"/\\|?*')
NAME_MAX = 120


def safe_name(text: str, fallback: str) -> str:
    """A file or folder name every system accepts, from a title or a name."""
    kept = "".join(
        "-" if c in UNSAFE or unicodedata.category(c)[0] == "C" else c
        for c in unicodedata.normalize("NFC", text)
    )
    kept = " ".join(kept.split()).strip(" .")
    return kept[:NAME_MAX].rstrip(" .") or fallback


class Names:
    """The names of one folder, unique whatever their case (Windows and macOS ignore it):
    « 2026-11-02 Ordonnance.pdf », then « 2026-11-02 Ordonnance (2).pdf »."""

    def __init__(self):
        self._taken: set[str] = set()
        self._next: dict[str, int] = {}

    def unique(self, stem: str, extension: str = "") -> str:
        suffix = f".{extension}" if extension else ""
        key = f"{stem}{suffix}".casefold()
        n = self._next.get(key, 1)
        while True:
            name = f"{stem} ({n}){suffix}" if n > 1 else f"{stem}{suffix}"
            if name.casefold() not in self._taken:
                self._taken.add(name.casefold())
                self._next[key] = n + 1
                return name
            n += 1


def _one_line(text: str) -> str:
    return " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in text).split())


def _mailbox(name: str, address: str) -> Address:
    name = _one_line(name)
    try:
        return Address(display_name=name, addr_spec=address)
    except (ValueError, IndexError, TypeError):
        return Address(display_name=name, addr_spec=parseaddr(settings.DEFAULT_FROM_EMAIL)[1])


def message_eml(message, conversation, space) -> bytes:
    """One message as a mail (RFC 5322): its decrypted text, its attachments, its threading."""
    from carnet.messaging.models import Message
    from carnet.messaging.services import message_text, patient_address, professional_name

    person = space.person
    patient = _mailbox(f"{person.first_name} {person.last_name}", patient_address(space))
    service_address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    professional = conversation.professional
    if professional is not None:
        name = message.author_name or professional_name(professional)
        other = _mailbox(name, professional.messaging_address or service_address)
    else:
        other = _mailbox(settings.SERVICE_NAME, service_address)
    mail = EmailMessage()
    mail["Subject"] = _one_line(conversation.subject)
    sent_by_person = message.author_kind == Message.AuthorKind.PERSON
    mail["From"] = patient if sent_by_person else other
    mail["To"] = other if sent_by_person else patient
    mail["Date"] = format_datetime(timezone.localtime(message.sent_at))
    for header, value in (("Message-ID", message.message_id), ("In-Reply-To", message.in_reply_to)):
        if value:
            try:
                mail[header] = _one_line(value)
            except (ValueError, TypeError, IndexError):
                continue  # a hostile sender's header: the mail stays readable without it
    mail.set_content(message_text(message))
    for attachment in message.attachments.all():
        if attachment.blob_id is None:
            continue  # refused at reception: never stored
        kind = attachment.media_type.split(";")[0].strip().lower()
        maintype, _, subtype = kind.partition("/")
        if not maintype or not subtype:
            maintype, subtype = "application", "octet-stream"
        mail.add_attachment(
            blobs.blob_read(attachment.blob),
            maintype=maintype,
            subtype=subtype,
            filename=safe_name(attachment.filename, "piece-jointe"),
        )
    return mail.as_bytes()


def fhir_json(space) -> bytes:
    """The profile as a FHIR R4 Bundle (the mappers of `carnet.fhir`)."""
    from carnet.fhir.mappers import profile_bundle, to_json

    text = to_json(profile_bundle(space))
    return text.encode() if isinstance(text, str) else bytes(text)


def history_csv(user, space) -> Iterator[bytes]:
    """The space's trail as « Historique d'activité » words it, line by line."""
    from carnet.audit.history_csv import csv_lines
    from carnet.audit.selectors import history_rows_all, space_trail

    rows = history_rows_all(space_trail(space), user, space)
    return (line.encode("utf-8") for line in csv_lines(rows))


class Archive:
    """The export's ZIP for `user` over `spaces` (each marked as `selectors.exportable_spaces`
    marks it); `beat` is called between files (the build's sign of life)."""

    def __init__(self, *, user, spaces, beat: Callable[[], None] = lambda: None):
        self.user = user
        self.spaces = spaces
        self.beat = beat
        self.documents = 0
        self.skipped: list[str] = []  # "Folder/documents/name" of unreadable documents
        self._zip = ZipStream(compress_type=ZIP_DEFLATED)  # zlib's default level

    def pieces(self) -> Iterator[bytes]:
        folders = Names()
        for space in self.spaces:
            person = space.person
            folder = folders.unique(safe_name(f"{person.first_name} {person.last_name}", "profil"))
            yield from self._profile(folder, space)
        yield from self._file(README, self._readme().encode())
        yield from self._zip.footer()

    def _file(self, arcname: str, data: bytes | Iterable[bytes], *, stored: bool = False):
        self._zip.add(data, arcname, compress_type=ZIP_STORED if stored else None)
        yield from self._zip.all_files()
        self.beat()

    def _profile(self, folder: str, space):
        from carnet.agenda.ical import feed_calendar
        from carnet.profile.pdf import synthesis_pdf

        yield from self._file(f"{folder}/synthese.pdf", synthesis_pdf(space), stored=True)
        yield from self._file(f"{folder}/profil.fhir.json", fhir_json(space))
        yield from self._file(f"{folder}/agenda.ics", feed_calendar(space))
        yield from self._file(f"{folder}/historique.csv", history_csv(self.user, space))
        yield from self._documents(folder, space)
        yield from self._messages(folder, space)

    def _documents(self, folder: str, space):
        from carnet.documents.selectors import live_documents

        names = Names()
        last = 0
        while True:
            batch = list(
                live_documents(space)
                .filter(pk__gt=last)
                .select_related("blob__data_key")
                .order_by("pk")[:DOCUMENTS_BATCH]
            )
            if not batch:
                return
            for doc in batch:
                stem = safe_name(f"{doc.document_date:%Y-%m-%d} {doc.title}", "document")
                name = names.unique(stem, doc.extension or "bin")
                try:
                    data = blobs.blob_read(doc.blob)
                except (blobs.BlobCorrupted, KeyDestroyed):
                    # Never a damaged file in the export: left out, and said in LISEZMOI.txt.
                    log.error("export: document %s unreadable, left out", doc.public_id)
                    self.skipped.append(f"{folder}/documents/{name}")
                    continue
                yield from self._file(f"{folder}/documents/{name}", data, stored=True)
                del data
                self.documents += 1
            last = batch[-1].pk

    def _messages(self, folder: str, space):
        from carnet.messaging.selectors import conversations_all, thread

        names = Names()
        for conversation in conversations_all(space):
            for message in thread(conversation):
                local = timezone.localtime(message.sent_at)
                stem = safe_name(f"{local:%Y-%m-%d %Hh%M} {conversation.subject}", "message")
                name = names.unique(stem, "eml")
                try:
                    data = message_eml(message, conversation, space)
                except (blobs.BlobCorrupted, KeyDestroyed):
                    log.error("export: message %s unreadable, left out", message.public_id)
                    self.skipped.append(f"{folder}/messages/{name}")
                    continue
                yield from self._file(f"{folder}/messages/{name}", data)

    def _readme(self) -> str:
        lines = [
            f"Export de vos données {settings.SERVICE_NAME}",
            f"Préparé le {clock.localtime_fr(clock.now())}.",
            "",
            "Un dossier par profil, qui contient :",
            "- synthese.pdf : la synthèse du profil médical ;",
            "- profil.fhir.json : le profil médical au format FHIR R4 (un « Bundle »), que "
            "d'autres services de santé savent lire ;",
            "- agenda.ics : l'agenda (rendez-vous, rappels, prévention) au format iCalendar ;",
            "- historique.csv : l'historique d'activité (UTF-8, séparateur « ; ») ;",
            "- documents : les documents, nommés par leur date et leur titre ;",
            "- messages : les messages, un fichier .eml par message, avec ses pièces jointes.",
            "",
            "Les documents et les conversations supprimés ne sont pas inclus.",
        ]
        if any(getattr(space, "seen_by_representative", False) for space in self.spaces):
            lines.append(
                "Pour un enfant mineur, les documents qu'un professionnel a rendus invisibles "
                "aux représentants légaux ne sont pas inclus."
            )
        if self.skipped:
            lines += [
                "",
                "Ces fichiers n'ont pas pu être lus (ils sont endommagés) et ne sont pas inclus ; "
                "contactez l'assistance :",
                *(f"- {name}" for name in self.skipped),
            ]
        lines += [
            "",
            "Ces fichiers contiennent des données de santé : conservez-les en lieu sûr et ne les "
            "laissez pas sur un ordinateur partagé.",
        ]
        return "\r\n".join(lines) + "\r\n"
