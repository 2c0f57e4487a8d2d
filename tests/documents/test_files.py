"""Properties of carnet.documents.files: names from a browser become safe names and titles,
and whatever the bytes, `file_check` either accepts the file or refuses it with FileRefused –
never another exception (which would be a 500)."""

import io
import re
import unicodedata

import pytest
from django.conf import settings
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from carnet.documents.files import (
    KINDS,
    CheckedFile,
    FileRefused,
    extension_of,
    file_check,
    safe_file_name,
    title_from_name,
)

from .conftest import image_bytes, pdf_bytes

PROPERTY = hypothesis_settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TITLE_MAX = settings.CARNET["DOCUMENT_TITLE_MAX_LENGTH"]

# Names as browsers and scripts send them: any text, with path pieces and odd characters likely.
name_pieces = st.sampled_from(
    ["/", "\\", "..", ".", " ", "_", "\x00", "\n", "\u202e", "\u200b", "\u2028", "C:", "<", ">"]
)
names = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(name_pieces, st.text(max_size=12)), max_size=25).map("".join),
)


def assert_clean(text: str):
    assert "/" not in text and "\\" not in text
    assert not any(unicodedata.category(c)[0] == "C" for c in text)
    assert not any(unicodedata.category(c) in ("Zl", "Zp") for c in text)
    assert text == text.strip()


# --- names -----------------------------------------------------------------------------------


@PROPERTY
@given(names)
@example("../../etc/passwd")
@example("..\\..\\boot.ini")
@example(". ")
@example(". .")
@example("\u202egpj.exe")
def test_a_safe_file_name_is_one_clean_non_empty_component(name):
    safe = safe_file_name(name)
    assert safe
    assert_clean(safe)
    assert not safe.startswith(".")
    assert safe not in (".", "..")


@PROPERTY
@given(names)
@example("")
@example(".pdf")
@example("___.pdf")
@example("<script>.pdf")
@example("a" * 300 + ".pdf")
def test_a_title_from_a_name_is_clean_short_and_never_empty(name):
    title = title_from_name(name)
    assert 1 <= len(title) <= TITLE_MAX
    assert_clean(title)
    assert "<" not in title and ">" not in title
    assert "  " not in title and "_" not in title


@PROPERTY
@given(names)
def test_an_extension_is_a_lowercase_word_without_separators(name):
    extension = extension_of(name)
    assert_clean(extension)
    assert "." not in extension
    assert extension == extension.lower()


@PROPERTY
@given(
    st.text(
        st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")),
        min_size=1,
        max_size=40,
    ).filter(lambda s: re.sub(r"^[\s.]+", "", s) and not re.search(r"[/\\]|^.:", s)),
    st.sampled_from(sorted(KINDS)),
)
def test_the_extension_and_the_title_come_from_the_last_dot(stem, extension):
    name = f"{stem}.{extension.upper()}"
    assert extension_of(name) == extension
    title = title_from_name(name)
    assert title and len(title) <= TITLE_MAX


@pytest.mark.parametrize(
    ("name", "title", "extension"),
    [
        ("Compte rendu.pdf", "Compte rendu", "pdf"),
        ("../../x.pdf", "x", "pdf"),
        ("C:\\Users\\alice\\Bilan.PDF", "Bilan", "pdf"),
        ("archive.tar.gz", "archive.tar", "gz"),
        ("bilan__sanguin.jpeg", "bilan sanguin", "jpeg"),
        ("Résultat <final>.txt", "Résultat final", "txt"),
        (".pdf", "pdf", ""),
        ("sans extension", "sans extension", ""),
        ("", "document", ""),
        ("\u202eFDP.exe", "FDP", "exe"),
        ("x" * 300 + ".pdf", "x" * TITLE_MAX, "pdf"),
    ],
)
def test_names_examples(name, title, extension):
    assert title_from_name(name) == title
    assert extension_of(name) == extension


# --- file_check never fails otherwise than with FileRefused ----------------------------------

MAGIC = [
    b"",
    b"%PDF-1.4\n",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"II*\x00",
    b"MM\x00*",
    b"{\\rtf1 ",
    b"PK\x03\x04",
    b"\x7fELF",
    b"MZ",
    b"BM",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
]
SEEDS = None


def seeds() -> dict[str, bytes]:
    global SEEDS
    if SEEDS is None:
        SEEDS = {
            "pdf": pdf_bytes(),
            "png": image_bytes("PNG"),
            "jpg": image_bytes("JPEG"),
            "tif": image_bytes("TIFF"),
            "rtf": b"{\\rtf1\\ansi Bonjour\\par}",
            "txt": "Résultat : normal\n".encode(),
        }
    return SEEDS


extensions = st.sampled_from(["pdf", "png", "jpg", "jpeg", "tif", "tiff", "rtf", "txt"])


def assert_checked_or_refused(name: str, data: bytes):
    try:
        checked = file_check(name, data)
    except FileRefused as exc:
        message = str(exc)
        assert message and message.endswith(".")
        return None
    assert isinstance(checked, CheckedFile)
    assert checked.data == data
    assert checked.media_type.split(";")[0] == KINDS[checked.extension][0]
    assert checked.extension == extension_of(name)
    return checked


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on corrupt TIFF tags
@PROPERTY
@given(st.sampled_from(MAGIC), st.binary(max_size=2048), extensions)
def test_arbitrary_bytes_are_accepted_or_refused(magic, data, extension):
    assert_checked_or_refused(f"fichier.{extension}", magic + data)


@st.composite
def mutated(draw):
    """A real small file of each kind, with bytes changed, cut out or inserted."""
    kind = draw(st.sampled_from(sorted(seeds())))
    data = bytearray(seeds()[kind])
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["set", "cut", "insert", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:
            del data[max(at, 1) :]
    extension = draw(st.sampled_from([kind, kind, "pdf", "png", "txt"]))
    return extension, bytes(data)


@pytest.mark.filterwarnings("ignore::UserWarning")
@PROPERTY
@given(mutated())
def test_damaged_real_files_are_accepted_or_refused(case):
    extension, data = case
    assert_checked_or_refused(f"fichier.{extension}", data)


@PROPERTY
@given(
    st.text(
        st.characters(
            blacklist_categories=("Cc", "Cs"), blacklist_characters="<", max_codepoint=0x2FFF
        )
        | st.sampled_from("\t\n\r"),
        min_size=1,
        max_size=500,
    ).filter(lambda s: not s.startswith(("%PDF", "{\\rtf")))
)
@example("%! urgent : rappeler le laboratoire")
@example("BMI : 24,3")
@example("ID3 : résultat")
@example("MZ : mesure de la zone")
def test_any_utf8_text_without_markup_is_accepted_as_it_is(text):
    data = text.encode()
    checked = assert_checked_or_refused("note.txt", data)
    assert checked is not None
    assert checked.media_type == "text/plain; charset=utf-8"
    assert checked.data.decode("utf-8") == text


@PROPERTY
@given(st.text(st.sampled_from("abcXYZ 0123456789:,.\néèàçùÉÈÀôîµ°²"), min_size=1, max_size=300))
def test_latin1_text_gets_a_charset_that_decodes_it(text):
    data = text.encode("latin-1")
    checked = assert_checked_or_refused("note.txt", data)
    assert checked is not None
    charset = checked.media_type.split("charset=")[1]
    try:  # a few Latin-1 pairs are also UTF-8 ("È°" reads "Ȱ"): UTF-8 is tried first
        data.decode("utf-8")
    except UnicodeDecodeError:
        assert charset == "iso-8859-1"
        assert data.decode(charset) == text
    else:
        assert charset == "utf-8"


def test_a_file_refused_for_its_size_is_not_read_further(settings):
    settings.CARNET = {**settings.CARNET, "DOCUMENT_MAX_BYTES": 1000}
    with pytest.raises(FileRefused, match="Le fichier dépasse 0,001 Mo."):
        file_check("gros.pdf", b"%PDF-" + bytes(1000))


def test_a_pdf_with_no_page_is_refused():
    from pypdf import PdfWriter

    buffer = io.BytesIO()
    PdfWriter().write(buffer)
    with pytest.raises(FileRefused, match="il ne contient aucune page"):
        file_check("vide.pdf", buffer.getvalue())
