"""What a file really is, whatever its name and the browser say.

The type is sniffed from the content (magic bytes, the `filetype` package), must agree with the
extension, and the file must then decode: images with Pillow (within a pixel budget), PDFs with
pypdf, text as UTF-8 or Latin-1. A refusal names the problem in French; nothing is stored.

An upload is checked by `file_check_isolated`: `file_check` in a child of the checker process
(`checker`), bounded in CPU, memory and time, since a small hostile file (a decompression bomb,
a parser trap) can cost seconds and gigabytes to decode. `file_check` itself stays a pure
function, for our own files.
"""

import io
import json
import logging
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

import filetype
from django.conf import settings

from . import checker

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
    "application/postscript": "un document PostScript",
    "application/msword": "un document Word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "un document Word",
    "application/vnd.oasis.opendocument.text": "un document OpenDocument",
    "image/bmp": "une image BMP",
}
# Formats whose magic bytes are printable: named as such even when the rest reads as text.
# (PostScript is left out: its mark, "%!", may begin a note, and it is text anyway.)
TEXT_SHAPED = {"application/pdf", "application/rtf"}
# What Pillow calls each accepted image type. Phones write their JPEGs as MPO (a JPEG with
# extra pictures – depth map, preview – after it), which Pillow reports under that name.
PILLOW_FORMATS = {"image/jpeg": {"JPEG", "MPO"}, "image/png": {"PNG"}, "image/tiff": {"TIFF"}}
# What the title refuses (forms.NAME_FORBIDDEN): kept out of a title taken from a file name.
TITLE_FORBIDDEN = re.compile(r"[<>]")
# Text that a browser would run if it were ever served as HTML.
MARKUP = re.compile(rb"<\s*(script|html|body|iframe|object|embed|svg|meta|!doctype)\b", re.I)
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
TOO_COMPLEX = "Ce fichier est trop complexe pour être vérifié : il n'a pas été ajouté."

log = logging.getLogger(__name__)


# Our own budget (IMAGE_MAX_PIXELS, below Pillow's) refuses large images before decoding:
# Pillow's warning for them is noise. Set once at import, never toggled (thread-safe).
warnings.filterwarnings("ignore", message="Image size .* could be decompression bomb")


class FileRefused(ValueError):
    """The file cannot be accepted; the message says why, in French."""


@dataclass(frozen=True)
class CheckedFile:
    data: bytes
    media_type: str
    extension: str
    suggested_title: str


def megabytes(n: int) -> str:
    return f"{n / 1_000_000:g} Mo".replace(".", ",")


def _millions(n: int) -> str:
    """50_000_000 → '50 millions', 1_500_000 → '1,5 million'."""
    count = f"{n / 1_000_000:g}".replace(".", ",")
    return f"{count} {'millions' if n >= 2_000_000 else 'million'}"


def safe_file_name(name: str) -> str:
    """The last component of a name from a browser, without control characters."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    # Line and paragraph separators are not control characters, but end a line all the same.
    base = "".join(" " if unicodedata.category(c) in ("Zl", "Zp") else c for c in base)
    return re.sub(r"^[\s.]+", "", base).rstrip() or "document"  # no ".", "..", ". ." …


def title_from_name(name: str) -> str:
    """The default title: the file name without its extension, cut to the title's length."""
    stem = safe_file_name(name)
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    stem = re.sub(r"[\s_]+", " ", TITLE_FORBIDDEN.sub(" ", stem)).strip() or "Document"
    return stem[: settings.CARNET["DOCUMENT_TITLE_MAX_LENGTH"]].strip()


def extension_of(name: str) -> str:
    """What follows the last dot, in lower case; none if that holds a space ("bilan. v2")."""
    base = safe_file_name(name)
    extension = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    return "" if any(c.isspace() for c in extension) else extension


def native_decoder(name: str) -> bool:
    """Would `file_check` hand this file to native code (Pillow's image decoders)? By its
    name: a file whose content is not what its name says is refused before any decoding."""
    kind = KINDS.get(extension_of(name))
    return kind is not None and kind[0] in PILLOW_FORMATS


def file_check(name: str, data: bytes) -> CheckedFile:
    limit = settings.CARNET["DOCUMENT_MAX_BYTES"]
    if len(data) > limit:
        raise FileRefused(f"Le fichier dépasse {megabytes(limit)}.")
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
    if extension == "txt":
        # Text has no magic bytes, and a line may begin like one ("BMI : 24" reads as a BMP,
        # "ID3" as an MP3): a sniffed type counts only if the bytes are binary, or if the
        # format itself is printable (a PDF or RTF is not plain text, whatever its name).
        mismatch = sniffed is not None and (
            sniffed in TEXT_SHAPED or CONTROL_BYTES.search(data) is not None
        )
    else:
        mismatch = sniffed != expected
    if mismatch:
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


def file_check_isolated(name: str, data: bytes, session=None) -> CheckedFile:
    """`file_check` in a child of the checker process (`checker`), bounded by
    settings.CARNET["FILE_CHECK_*"] in CPU, memory and wall time: a child of its own, or the
    child of `session` (`checker.CheckerSession`, for several files of one sender).

    A child that is killed by its bounds, crashes or stays silent past the timeout means a
    refusal; the checker cannot be reached is a server error (`CheckerUnavailable`), not a
    verdict on the file.
    """
    limits = settings.CARNET
    header = {
        "name": name,
        "cpu": limits["FILE_CHECK_CPU_SECONDS"],
        "memory": limits["FILE_CHECK_MEMORY_BYTES"],
        "timeout": limits["FILE_CHECK_TIMEOUT_SECONDS"],
        "settings": {key: limits[key] for key in checker.CHECK_SETTINGS},
    }
    report = (session or checker).check(header, data, limits["FILE_CHECK_TIMEOUT_SECONDS"])
    try:
        result = json.loads(report)
    except (TypeError, ValueError):  # None (timed out) or cut short (killed, crashed)
        reason = "timed out" if report is None else "ended without a result"
        log.warning("file check of an upload %s: refused as too complex", reason)
        raise FileRefused(TOO_COMPLEX) from None
    if "refused" in result:
        raise FileRefused(result["refused"])
    return CheckedFile(data=data, **result)


def preload() -> None:
    """What the checks import and cache, loaded once in the checker (not again in each child):
    every image plugin (Pillow imports them lazily, TIFF's at the first TIFF), and one check of
    a small file of each kind (pypdf and Pillow import more, and compile patterns, at their
    first file). This halves a child's work on an ordinary PDF."""
    import pypdf
    from PIL import Image

    Image.init()
    pdf = io.BytesIO()
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=100, height=100)
    writer.write(pdf)
    samples = {"echantillon.pdf": pdf.getvalue(), "echantillon.txt": "Résultat\n".encode()}
    samples["echantillon.rtf"] = b"{\\rtf1\\ansi R\\'e9sultat}"
    for extension, image_format in (("png", "PNG"), ("jpg", "JPEG"), ("tif", "TIFF")):
        image = io.BytesIO()
        Image.new("RGB", (8, 8), "white").save(image, image_format)
        samples[f"echantillon.{extension}"] = image.getvalue()
    for name, data in samples.items():
        try:
            file_check(name, data)
        except FileRefused:  # a warm-up: a refusal has loaded what it needed all the same
            pass


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"{\\rtf"):
        return "application/rtf"
    kind = filetype.guess(data[:8192])
    if kind is None:
        return None if data[:5] != b"%PDF-" else "application/pdf"
    # An animated PNG is a PNG (browsers and Pillow read it as one).
    return {"image/x-ms-bmp": "image/bmp", "image/apng": "image/png"}.get(kind.mime, kind.mime)


def _check_image(data: bytes, media_type: str, called: str) -> None:
    from PIL import Image

    invalid = f"Ce fichier n'est pas {called} valide."
    budget = settings.CARNET["IMAGE_MAX_PIXELS"]
    try:
        # Our pixel budget is checked before decoding; Pillow's own bomb check (an error at
        # twice its MAX_IMAGE_PIXELS) stays as a second net.
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in PILLOW_FORMATS[media_type]:
                raise FileRefused(invalid)
            width, height = image.size
            if width * height > budget:
                raise FileRefused(
                    f"L'image est trop grande ({width} × {height} pixels) : "
                    f"{_millions(budget)} de pixels au plus."
                )
            image.load()  # decodes every pixel: a truncated image fails here
    except Image.DecompressionBombError as exc:
        too_large = f"L'image est trop grande : {_millions(budget)} de pixels au plus."
        raise FileRefused(too_large) from exc
    except (FileRefused, MemoryError):  # MemoryError: see file_check_isolated
        raise
    except Exception as exc:  # UnidentifiedImageError, OSError… and, on hostile input, TypeError…
        raise FileRefused(invalid) from exc
    # After the image's end marker: phones append maker data or a "motion photo" video to
    # their JPEGs, which is kept; web code hidden there is refused (archives were refused above).
    tail = data.rstrip(b"\x00")
    if media_type == "image/jpeg" and not tail.endswith(b"\xff\xd9") and MARKUP.search(data):
        raise FileRefused(f"{invalid[:-1]} : du code de page web suit la fin de l'image.")
    if media_type == "image/png" and not tail.endswith(b"IEND\xaeB`\x82"):
        raise FileRefused(f"{invalid[:-1]} : des données suivent la fin de l'image.")


def _pdf_limits() -> dict[str, int]:
    """pypdf's caps on a decoded stream (75 Mo by default), brought down to 4 × the file limit."""
    cap = 4 * settings.CARNET["DOCUMENT_MAX_BYTES"]
    names = ("zlib", "lzw", "run_length", "jbig2", "brotli")
    return {
        **{f"{name}_maximum_output_length": cap for name in names},
        "array_based_stream_maximum_output_length": cap,
        "stream_decoding_work_maximum_length": cap,
    }


def _check_pdf(data: bytes) -> None:
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import PyPdfError

    invalid = "Ce fichier n'est pas un PDF valide."
    if b"%%EOF" not in data[-1024:]:
        raise FileRefused(f"{invalid[:-1]} : il est incomplet (fin du fichier absente).")
    try:
        with apply_configuration(**_pdf_limits()):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise FileRefused(
                    "Ce PDF est protégé par un mot de passe : enregistrez-le sans protection, "
                    "puis ajoutez-le à nouveau."
                )
            if len(reader.pages) == 0:
                raise FileRefused(f"{invalid[:-1]} : il ne contient aucune page.")
    except (FileRefused, MemoryError):  # MemoryError: see file_check_isolated
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise FileRefused(invalid) from exc
    except Exception as exc:  # pypdf's parser raises many kinds on hostile input
        raise FileRefused(invalid) from exc


def _check_rtf(data: bytes) -> None:
    data = data.rstrip(b"\x00")  # WordPad ends its files with a NUL byte
    if CONTROL_BYTES.search(data) or not data.rstrip().endswith(b"}"):
        raise FileRefused("Ce fichier n'est pas un document RTF valide.")


def _check_text(data: bytes) -> str:
    """Plain text in UTF-8 (a BOM allowed) or Latin-1; returns the media type with charset."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused(
            "Ce fichier texte est enregistré en UTF-16 : enregistrez-le en UTF-8, "
            "puis ajoutez-le à nouveau."
        )
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
