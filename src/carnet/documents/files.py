"""What a file really is, whatever its name and the browser say.

The type is sniffed from the content (magic bytes, the `filetype` package), must agree with the
extension, and the file must then decode: images with Pillow (within a pixel budget), PDFs with
pypdf, text as UTF-8 or Latin-1. A refusal names the problem in French; nothing is stored.
"""

import io
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

import filetype
from django.conf import settings

ACCEPTED_EXTENSIONS = (".jpeg", ".jpg", ".pdf", ".png", ".rtf", ".txt", ".tif", ".tiff")
ACCEPT_ATTRIBUTE = ",".join(ACCEPTED_EXTENSIONS)

# extension → (media type, what a person calls it)
KINDS = {
    "pdf": ("application/pdf", "un PDF"),
    "jpg": ("image/jpeg", "une image JPEG"),
    "jpeg": ("image/jpeg", "une image JPEG"),
    "png": ("image/png", "une image PNG"),
    "tif": ("image/tiff", "une image TIFF"),
    "tiff": ("image/tiff", "une image TIFF"),
    "rtf": ("application/rtf", "un document RTF"),
    "txt": ("text/plain", "un fichier texte"),
}
# Sniffed media types we can name when the content is not what the name says.
CONTENT_NAMES = {
    "application/pdf": "un document PDF",
    "image/jpeg": "une image JPEG",
    "image/png": "une image PNG",
    "image/tiff": "une image TIFF",
    "application/rtf": "un document RTF",
    "image/gif": "une image GIF",
    "image/webp": "une image WebP",
    "image/heic": "une photo HEIC",
    "application/zip": "une archive ZIP",
    "application/x-msdownload": "un programme exécutable",
    "application/x-executable": "un programme exécutable",
    "application/x-mach-binary": "un programme exécutable",
}
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/tiff": "TIFF"}
# Text that a browser would run if it were ever served as HTML.
MARKUP = re.compile(rb"<\s*(script|html|body|iframe|object|embed|svg|meta|!doctype)\b", re.I)
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class FileRefused(ValueError):
    """The file cannot be accepted; the message says why, in French."""


@dataclass(frozen=True)
class CheckedFile:
    data: bytes
    media_type: str
    extension: str
    suggested_title: str


def _mega(n: int) -> str:
    return f"{n / 1_000_000:g} Mo".replace(".", ",")


def safe_file_name(name: str) -> str:
    """The last component of a name from a browser, without control characters."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    return base.strip().lstrip(".") or "document"


def title_from_name(name: str) -> str:
    """The default title: the file name without its extension, cut to the title's length."""
    stem = safe_file_name(name)
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    stem = re.sub(r"[\s_]+", " ", stem).strip() or "Document"
    return stem[: settings.CARNET["DOCUMENT_TITLE_MAX_LENGTH"]].strip()


def extension_of(name: str) -> str:
    base = safe_file_name(name)
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def file_check(name: str, data: bytes) -> CheckedFile:
    limit = settings.CARNET["DOCUMENT_MAX_BYTES"]
    if len(data) > limit:
        raise FileRefused(f"Le fichier dépasse {_mega(limit)}.")
    if not data:
        raise FileRefused("Le fichier est vide.")
    extension = extension_of(name)
    if extension not in KINDS:
        raise FileRefused(
            "Ce format n'est pas accepté. Formats acceptés : "
            + ", ".join(ACCEPTED_EXTENSIONS)
            + "."
        )
    expected, called = KINDS[extension]
    sniffed = _sniff(data)
    if sniffed != (None if extension == "txt" else expected):  # text has no magic bytes
        content = CONTENT_NAMES.get(sniffed or "", "")
        detail = f" : son contenu est {content}" if content else ""
        raise FileRefused(f"Ce fichier n'est pas {called} valide{detail}.")
    if zipfile.is_zipfile(io.BytesIO(data)):
        raise FileRefused(f"Ce fichier n'est pas {called} valide : il contient une archive cachée.")
    if expected in PILLOW_FORMATS:
        _check_image(data, expected, called)
    elif expected == "application/pdf":
        _check_pdf(data)
    elif expected == "application/rtf":
        _check_rtf(data)
    else:
        expected = _check_text(data)
    return CheckedFile(
        data=data, media_type=expected, extension=extension, suggested_title=title_from_name(name)
    )


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"{\\rtf"):
        return "application/rtf"
    kind = filetype.guess(data[:8192])
    if kind is None:
        return None if data[:5] != b"%PDF-" else "application/pdf"
    return {"image/x-ms-bmp": "image/bmp"}.get(kind.mime, kind.mime)


def _check_image(data: bytes, media_type: str, called: str) -> None:
    from PIL import Image, UnidentifiedImageError

    invalid = f"Ce fichier n'est pas {called} valide."
    budget = settings.CARNET["IMAGE_MAX_PIXELS"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != PILLOW_FORMATS[media_type]:
                    raise FileRefused(invalid)
                width, height = image.size
                if width * height > budget:
                    raise FileRefused(
                        f"L'image est trop grande ({width} × {height} pixels) : "
                        f"{budget // 1_000_000} millions de pixels au plus."
                    )
                image.load()  # decodes every pixel: a truncated image fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise FileRefused(
            f"L'image est trop grande : {budget // 1_000_000} millions de pixels au plus."
        ) from exc
    except FileRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise FileRefused(invalid) from exc
    # Nothing may follow the image's end marker (a file hidden behind a picture).
    tail = data.rstrip(b"\x00")
    if media_type == "image/jpeg" and not tail.endswith(b"\xff\xd9"):
        raise FileRefused(f"{invalid[:-1]} : des données suivent la fin de l'image.")
    if media_type == "image/png" and not tail.endswith(b"IEND\xaeB`\x82"):
        raise FileRefused(f"{invalid[:-1]} : des données suivent la fin de l'image.")


def _check_pdf(data: bytes) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    invalid = "Ce fichier n'est pas un PDF valide."
    if b"%%EOF" not in data[-1024:]:
        raise FileRefused(f"{invalid[:-1]} : il est incomplet (fin du fichier absente).")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileRefused(
                "Ce PDF est protégé par un mot de passe : enregistrez-le sans protection, "
                "puis ajoutez-le à nouveau."
            )
        if len(reader.pages) == 0:
            raise FileRefused(f"{invalid[:-1]} : il ne contient aucune page.")
    except FileRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise FileRefused(invalid) from exc
    except Exception as exc:  # pypdf's parser raises many kinds on hostile input
        raise FileRefused(invalid) from exc


def _check_rtf(data: bytes) -> None:
    if CONTROL_BYTES.search(data) or not data.rstrip().endswith(b"}"):
        raise FileRefused("Ce fichier n'est pas un document RTF valide.")


def _check_text(data: bytes) -> str:
    """Plain text in UTF-8 (a BOM allowed) or Latin-1; returns the media type with charset."""
    if CONTROL_BYTES.search(data):
        raise FileRefused(
            "Ce fichier n'est pas un fichier texte valide : il contient des données binaires."
        )
    try:
        data.decode("utf-8")
        charset = "utf-8"
    except UnicodeDecodeError:
        charset = "iso-8859-1"  # any byte decodes: control characters were refused above
    if MARKUP.search(data):
        raise FileRefused(
            "Ce fichier n'est pas un fichier texte valide : il contient le code d'une page web."
        )
    return f"text/plain; charset={charset}"
