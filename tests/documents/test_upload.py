"""Adding a document through POST /documents/ajouter/: every accepted format goes in and comes
back byte for byte; every bad file is refused in French, next to the field, and leaves nothing
behind (no Document row, no Blob row, no file in the blob store)."""

import io
import re
import struct
import zipfile
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from carnet.audit.models import Event
from carnet.core import clock
from carnet.core.models import Blob
from carnet.documents.models import Document
from tests.pages import field_error, is_invalid

from .conftest import form_data, image_bytes, pdf_bytes, upload

pytestmark = pytest.mark.django_db

URL = "/documents/ajouter/"
ACCEPTED = "Formats acceptés : .jpeg, .jpg, .pdf, .png, .rtf, .txt, .tif, .tiff."


# --- helpers ---------------------------------------------------------------------------------


def stored_files() -> list:
    root = django_settings.BLOB_DIR
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_nothing_stored():
    assert Document.objects.count() == 0
    assert Blob.objects.count() == 0
    assert stored_files() == []
    assert not Event.objects.filter(action="document_ajout").exists()


def assert_refused(response, message: str, field: str = "file"):
    assert response.status_code == 400
    page = response.content.decode()
    assert field_error(page, field) == message
    assert is_invalid(page, field)
    assert_nothing_stored()


def post_file(client, name: str, data: bytes, **fields):
    return client.post(URL, form_data(upload(name, data), **fields))


def raw_multipart(client, file_name: str, data: bytes, **fields):
    """A hand-written multipart body, for names the test client would clean before sending
    (it keeps only the base name, and SimpleUploadedFile cuts names to 255 characters)."""
    boundary = "----CarnetTestBoundary7MA4YWxkTrZu0gW"
    values = {"title": "", "category": "CPT_REND", "document_date": "2026-11-02", **fields}
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in values.items()
    ]
    parts.append(
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(URL, body, content_type=f"multipart/form-data; boundary={boundary}")


def downloaded(client, doc) -> bytes:
    response = client.get(f"/documents/{doc.public_id}/fichier/?telecharger=1")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    return b"".join(response.streaming_content)


def tiff_bytes() -> bytes:
    return image_bytes("TIFF")


def phone_jpeg() -> bytes:
    """A JPEG as phones write them: MPO, a second picture after the first (Pillow: 'MPO')."""
    from PIL import Image

    buffer = io.BytesIO()
    first, second = Image.new("RGB", (40, 30), (10, 120, 200)), Image.new("RGB", (40, 30))
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    return buffer.getvalue()


def animated_png() -> bytes:
    from PIL import Image

    frames = [Image.new("RGB", (20, 20), (60 * n, 0, 0)) for n in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def encrypted_pdf(user_password: str = "secret") -> bytes:  # noqa: S107 (a test file)
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes())))
    writer.encrypt(user_password=user_password, owner_password="proprietaire")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cache.txt", "un fichier caché")
    return buffer.getvalue()


def big_png(width: int, height: int) -> bytes:
    """A 1-bit picture of many pixels that compresses to a few kilobytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + bytes(200)
MZ = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + bytes(48)
    + b"This program cannot be run in DOS mode.\r\r\n$"
    + bytes(100)
)


# --- accepted formats ------------------------------------------------------------------------

ACCEPTED_FILES = [
    ("Compte rendu.pdf", pdf_bytes, "application/pdf", "pdf"),
    ("Radio genou.jpg", lambda: image_bytes("JPEG"), "image/jpeg", "jpg"),
    ("Radio genou.jpeg", lambda: image_bytes("JPEG"), "image/jpeg", "jpeg"),
    ("Échographie.png", lambda: image_bytes("PNG"), "image/png", "png"),
    ("Scanner.tiff", tiff_bytes, "image/tiff", "tiff"),
    ("Scanner.tif", tiff_bytes, "image/tiff", "tif"),
    ("Lettre.rtf", lambda: rb"{\rtf1\ansi Bonjour}", "application/rtf", "rtf"),
    (
        "Résultat.txt",
        lambda: "Résultat : normal\n".encode(),
        "text/plain; charset=utf-8",
        "txt",
    ),
    (
        "Résultat latin.txt",
        lambda: "Résultat : normal\n".encode("latin-1"),
        "text/plain; charset=iso-8859-1",
        "txt",
    ),
    # Regressions: files people have that were refused.
    ("Photo téléphone.jpg", phone_jpeg, "image/jpeg", "jpg"),
    ("Animation.png", animated_png, "image/png", "png"),
    ("Mesures.txt", lambda: b"BMI : 24,3\nTension : 12/8\n", "text/plain; charset=utf-8", "txt"),
    ("Wordpad.rtf", lambda: b"{\\rtf1\\ansi Bonjour\\par}\r\n\x00", "application/rtf", "rtf"),
    ("Majuscules.PDF", pdf_bytes, "application/pdf", "pdf"),
    ("Sans mot de passe.pdf", lambda: encrypted_pdf(""), "application/pdf", "pdf"),
]


@pytest.mark.parametrize(("name", "make", "media_type", "extension"), ACCEPTED_FILES)
def test_each_accepted_format_is_stored_and_returned_byte_for_byte(
    alice_client, name, make, media_type, extension
):
    data = make()
    response = post_file(alice_client, name, data)
    assert response.status_code == 302, field_error(response.content.decode(), "file")
    doc = Document.objects.get()
    assert doc.media_type == media_type
    assert doc.extension == extension
    assert doc.size == len(data)
    assert doc.title == name.rsplit(".", 1)[0]
    assert response["Location"] == f"/documents/{doc.public_id}/"
    assert downloaded(alice_client, doc) == data
    assert Blob.objects.count() == 1 and len(stored_files()) == 1


def test_a_file_of_exactly_5_mo_is_accepted(alice_client):
    data = b"Ligne de texte.\n" * (5_000_000 // 16)
    assert len(data) == 5_000_000
    response = post_file(alice_client, "Long.txt", data)
    assert response.status_code == 302
    assert downloaded(alice_client, Document.objects.get()) == data


# --- refusals --------------------------------------------------------------------------------


def test_a_file_over_5_mo_is_refused(alice_client):
    response = post_file(alice_client, "Gros.txt", b"a" * 5_000_001)
    assert_refused(response, "Le fichier dépasse 5 Mo.")


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        (
            "image.pdf",
            lambda: image_bytes("PNG"),
            "Ce fichier n'est pas un PDF valide : son contenu est une image PNG.",
        ),
        (
            "document.png",
            pdf_bytes,
            "Ce fichier n'est pas une image PNG valide : son contenu est un document PDF.",
        ),
        (
            "photo.jpg",
            lambda: image_bytes("PNG"),
            "Ce fichier n'est pas une image JPEG valide : son contenu est une image PNG.",
        ),
        (
            "document.txt",
            pdf_bytes,
            "Ce fichier n'est pas un fichier texte valide : son contenu est un document PDF.",
        ),
        (
            "page.txt",
            lambda: b"<html><body><script>alert('x')</script></body></html>",
            "Ce fichier n'est pas un fichier texte valide : il contient le code d'une page web.",
        ),
        (
            "note.txt",
            lambda: b"Bonjour\n< SCRIPT >document.cookie</script>",
            "Ce fichier n'est pas un fichier texte valide : il contient le code d'une page web.",
        ),
        (
            "programme.pdf",
            lambda: ELF,
            "Ce fichier n'est pas un PDF valide : son contenu est un programme exécutable.",
        ),
        (
            "programme.txt",
            lambda: ELF,
            "Ce fichier n'est pas un fichier texte valide : "
            "son contenu est un programme exécutable.",
        ),
        (
            "setup.pdf",
            lambda: MZ,
            "Ce fichier n'est pas un PDF valide : son contenu est un programme exécutable.",
        ),
        (
            "setup.txt",
            lambda: MZ,
            "Ce fichier n'est pas un fichier texte valide : "
            "son contenu est un programme exécutable.",
        ),
        (
            "archive.txt",
            zip_bytes,
            "Ce fichier n'est pas un fichier texte valide : son contenu est une archive ZIP.",
        ),
        (
            "binaire.txt",
            lambda: b"Bonjour\x00\x01\x02",
            "Ce fichier n'est pas un fichier texte valide : il contient des données binaires.",
        ),
        (
            "windows.txt",
            lambda: "Résultat : normal".encode("utf-16"),
            "Ce fichier texte est enregistré en UTF-16 : enregistrez-le en UTF-8, "
            "puis ajoutez-le à nouveau.",
        ),
        (
            "incomplet.pdf",
            lambda: pdf_bytes()[: len(pdf_bytes()) // 2],
            "Ce fichier n'est pas un PDF valide : il est incomplet (fin du fichier absente).",
        ),
        (
            "incomplete.png",
            lambda: image_bytes("PNG", size=(300, 200))[:-200],
            "Ce fichier n'est pas une image PNG valide.",
        ),
        (
            "polyglotte.jpg",
            lambda: image_bytes("JPEG") + zip_bytes(),
            "Ce fichier n'est pas une image JPEG valide : il contient une archive cachée.",
        ),
        (
            "polyglotte.pdf",
            lambda: pdf_bytes() + zip_bytes() + b"\n%%EOF\n",
            "Ce fichier n'est pas un PDF valide : il contient une archive cachée.",
        ),
        (
            "suite.jpg",
            lambda: image_bytes("JPEG") + b"<script>alert(1)</script>",
            "Ce fichier n'est pas une image JPEG valide : du code de page web suit la fin de "
            "l'image.",
        ),
        (
            "suite.png",
            lambda: image_bytes("PNG") + b"donnees en trop",
            "Ce fichier n'est pas une image PNG valide : des données suivent la fin de l'image.",
        ),
        (
            "protege.pdf",
            encrypted_pdf,
            "Ce PDF est protégé par un mot de passe : enregistrez-le sans protection, "
            "puis ajoutez-le à nouveau.",
        ),
        (
            "lettre.rtf",
            lambda: b"{\\rtf1\\ansi Bonjour",
            "Ce fichier n'est pas un document RTF valide.",
        ),
    ],
)
def test_a_file_whose_content_is_not_what_its_name_says_is_refused(
    alice_client, name, make, message
):
    assert_refused(post_file(alice_client, name, make()), message)


def test_an_empty_file_is_refused(alice_client):
    assert_refused(post_file(alice_client, "vide.pdf", b""), "Le fichier est vide.")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("rapport.docx", zip_bytes()),
        ("photo.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)),
        ("schema.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>'),
        ("sans extension", pdf_bytes()),
    ],
)
def test_an_unaccepted_format_is_refused_with_the_list_of_formats(alice_client, name, data):
    message = f"Ce format n'est pas accepté. {ACCEPTED}"
    assert_refused(post_file(alice_client, name, data), message)


def test_an_image_over_the_pixel_budget_is_refused_before_it_is_decoded(alice_client):
    data = big_png(8_000, 7_500)  # 60 million pixels, a few kilobytes
    assert len(data) < 100_000
    message = "L'image est trop grande (8000 × 7500 pixels) : 50 millions de pixels au plus."
    assert_refused(post_file(alice_client, "bombe.png", data), message)


def test_a_decompression_bomb_is_refused(alice_client):
    data = big_png(10_000, 10_000)  # 100 million pixels, a few kilobytes compressed
    message = "L'image est trop grande (10000 × 10000 pixels) : 50 millions de pixels au plus."
    assert_refused(post_file(alice_client, "bombe.png", data), message)


def test_the_pixel_budget_is_a_setting(alice_client, settings):
    settings.CARNET = {**settings.CARNET, "IMAGE_MAX_PIXELS": 1_500_000}
    message = "L'image est trop grande (2000 × 1000 pixels) : 1,5 million de pixels au plus."
    assert_refused(post_file(alice_client, "grande.png", big_png(2_000, 1_000)), message)


def test_a_tiff_that_crashed_the_decoder_is_refused_not_a_500(alice_client):
    """Found by fuzzing: a StripOffsets tag typed FLOAT made Pillow raise TypeError."""
    data = bytearray(tiff_bytes())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for n in range(count):
        entry = ifd + 2 + 12 * n
        if struct.unpack_from("<H", data, entry)[0] == 273:  # StripOffsets
            struct.pack_into("<H", data, entry + 2, 11)  # FLOAT
    message = "Ce fichier n'est pas une image TIFF valide."
    assert_refused(post_file(alice_client, "scanner.tif", bytes(data)), message)


def test_two_files_in_the_same_field_are_refused(alice_client):
    files = [upload("un.pdf", pdf_bytes()), upload("deux.pdf", pdf_bytes())]
    response = alice_client.post(URL, form_data(files))
    assert_refused(response, "Un seul fichier peut être déposé à la fois.")


def test_no_file_is_refused(alice_client):
    response = alice_client.post(URL, {k: v for k, v in form_data(None).items() if k != "file"})
    assert_refused(response, "Choisissez un fichier à ajouter.")


def test_an_empty_post_is_refused_not_shown_as_a_blank_form(alice_client):
    response = alice_client.post(URL, {})
    assert_refused(response, "Choisissez un fichier à ajouter.")
    assert field_error(response.content.decode(), "category") == "Choisissez une catégorie."


# --- names -----------------------------------------------------------------------------------


def test_a_path_in_the_file_name_is_stored_safely(alice_client, tmp_path):
    data = pdf_bytes()
    response = raw_multipart(alice_client, "../../x.pdf", data)
    assert response.status_code == 302
    doc = Document.objects.get()
    assert doc.title == "x"
    assert re.fullmatch(r"[0-9a-f]{64}", doc.blob_id)
    [stored] = stored_files()
    assert stored.name == doc.blob_id
    assert stored.parent.parent == django_settings.BLOB_DIR
    # Nothing written next to the blob store, or anywhere else under the test's folder.
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [stored]
    assert not (django_settings.BLOB_DIR.parent / "x.pdf").exists()
    assert downloaded(alice_client, doc) == data


def test_a_windows_path_in_the_file_name_is_stored_safely(alice_client):
    response = raw_multipart(alice_client, "C:\\\\Users\\\\alice\\\\Bilan sanguin.pdf", pdf_bytes())
    assert response.status_code == 302
    assert Document.objects.get().title == "Bilan sanguin"


def test_a_300_character_file_name_gives_a_title_of_50(alice_client):
    name = "Compte rendu " + "d" * 283 + ".pdf"
    assert len(name) == 300
    response = raw_multipart(alice_client, name, pdf_bytes())
    assert response.status_code == 302
    doc = Document.objects.get()
    assert doc.title == ("Compte rendu " + "d" * 283)[:50]
    assert len(doc.title) == 50
    assert doc.extension == "pdf"


def test_markup_in_the_file_name_does_not_reach_the_default_title(alice_client):
    response = raw_multipart(alice_client, "Résultat <final>.pdf", pdf_bytes())
    assert response.status_code == 302
    assert Document.objects.get().title == "Résultat final"


def test_underscores_in_the_file_name_become_spaces(alice_client):
    response = post_file(alice_client, "bilan__sanguin_2026.pdf", pdf_bytes())
    assert response.status_code == 302
    assert Document.objects.get().title == "bilan sanguin 2026"


# --- the other fields ------------------------------------------------------------------------


def test_the_title_given_wins_over_the_file_name(alice_client):
    response = post_file(alice_client, "scan0001.pdf", pdf_bytes(), title="  Bilan   annuel ")
    assert response.status_code == 302
    assert Document.objects.get().title == "Bilan annuel"


def test_a_title_over_50_characters_is_refused(alice_client):
    response = post_file(alice_client, "bilan.pdf", pdf_bytes(), title="t" * 51)
    assert_refused(response, "Le titre ne doit pas dépasser 50 caractères.", field="title")


def test_a_title_of_50_characters_is_accepted(alice_client):
    response = post_file(alice_client, "bilan.pdf", pdf_bytes(), title="t" * 50)
    assert response.status_code == 302
    assert Document.objects.get().title == "t" * 50


def test_a_title_with_markup_is_refused(alice_client):
    response = post_file(alice_client, "bilan.pdf", pdf_bytes(), title="<b>Bilan</b>")
    message = "Le titre ne doit pas contenir les caractères < ou >."
    assert_refused(response, message, field="title")


def test_invisible_characters_are_removed_from_the_title(alice_client):
    # A right-to-left override would show "Ordonnanceexe.pdf" as something else.
    title = "Ordonnance\u202e\u200b fdp.exe"
    response = post_file(alice_client, "bilan.pdf", pdf_bytes(), title=title)
    assert response.status_code == 302
    assert Document.objects.get().title == "Ordonnance fdp.exe"


def test_a_document_date_in_the_future_is_refused(alice_client):
    tomorrow = timezone.localdate(clock.now()) + timedelta(days=1)
    response = post_file(alice_client, "bilan.pdf", pdf_bytes(), document_date=str(tomorrow))
    message = "La date du document ne peut pas être dans le futur."
    assert_refused(response, message, field="document_date")


def test_a_document_dated_today_is_accepted(alice_client):
    today = timezone.localdate(clock.now())
    response = post_file(alice_client, "bilan.pdf", pdf_bytes(), document_date=str(today))
    assert response.status_code == 302
    assert Document.objects.get().document_date == today


def test_a_missing_category_is_refused(alice_client):
    response = post_file(alice_client, "bilan.pdf", pdf_bytes(), category="")
    assert_refused(response, "Choisissez une catégorie.", field="category")


def test_an_unknown_category_is_refused(alice_client):
    response = post_file(alice_client, "bilan.pdf", pdf_bytes(), category="INCONNUE")
    assert_refused(response, "Choisissez une catégorie de la liste.", field="category")


def test_every_error_is_shown_at_once(alice_client):
    response = post_file(alice_client, "image.pdf", image_bytes("PNG"), title="x" * 51, category="")
    assert response.status_code == 400
    page = response.content.decode()
    for field in ("file", "title", "category"):
        assert field_error(page, field) and is_invalid(page, field)
    assert_nothing_stored()


def test_editing_a_title_down_to_invisible_characters_is_refused(alice_client):
    assert post_file(alice_client, "bilan.pdf", pdf_bytes()).status_code == 302
    doc = Document.objects.get()
    response = alice_client.post(
        f"/documents/{doc.public_id}/modifier/",
        {"title": "\u200b\u200b", "category": "CPT_REND", "document_date": "2026-11-02"},
    )
    assert response.status_code in (200, 400)
    page = response.content.decode()
    assert field_error(page, "title") == "Indiquez un titre."
    doc.refresh_from_db()
    assert doc.title == "bilan"


# --- the size limit, before the body is read -------------------------------------------------


class UnreadableBody:
    """A wsgi.input that fails the test if anything reads it."""

    def read(self, *args, **kwargs):
        raise AssertionError("the request body was read")

    readline = read

    def __iter__(self):
        raise AssertionError("the request body was read")


def test_an_oversized_body_gets_a_413_without_being_read(alice_client):
    limit = django_settings.DOCUMENT_MAX_BYTES + django_settings.UPLOAD_BODY_OVERHEAD
    response = alice_client.post(
        URL,
        CONTENT_LENGTH=str(limit + 1),
        CONTENT_TYPE="multipart/form-data; boundary=xyz",
        **{"wsgi.input": UnreadableBody()},
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert "Le fichier dépasse 5 Mo" in page
    assert "Rien n&#x27;a été enregistré" in page or "Rien n'a été enregistré" in page
    assert response["Connection"] == "close"
    assert_nothing_stored()


def test_the_unreadable_body_would_be_noticed_under_the_limit(alice_client):
    """The witness of the test above: under the limit the form reads the body, and the
    unreadable body fails loudly (so a 413 without failure proves the body was not read)."""
    with pytest.raises(AssertionError, match="the request body was read"):
        alice_client.post(
            URL,
            CONTENT_LENGTH="1000",
            CONTENT_TYPE="multipart/form-data; boundary=xyz",
            **{"wsgi.input": UnreadableBody()},
        )


def test_a_body_just_under_the_limit_reaches_the_form(alice_client):
    """The 413 is for the body as a whole: a 5,000,001-byte file in a body under the limit
    gets the message next to the field instead (see test_a_file_over_5_mo_is_refused)."""
    limit = django_settings.DOCUMENT_MAX_BYTES + django_settings.UPLOAD_BODY_OVERHEAD
    response = post_file(alice_client, "Gros.txt", b"a" * 5_000_001)
    assert int(response.wsgi_request.META["CONTENT_LENGTH"]) <= limit
    assert response.status_code == 400


def test_the_form_announces_the_formats_and_the_size(alice_client):
    page = alice_client.get(URL).content.decode()
    assert "Formats acceptés : .jpeg, .jpg, .pdf, .png, .rtf, .txt, .tif, .tiff." in page
    assert "Taille maximale : 5 Mo." in page
    assert 'accept=".jpeg,.jpg,.pdf,.png,.rtf,.txt,.tif,.tiff"' in page


def test_a_phone_jpeg_with_data_after_the_image_is_kept_whole(alice_client):
    """Phones append maker data or a short video ("motion photo") after the JPEG's end."""
    data = image_bytes("JPEG") + b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
    response = alice_client.post("/documents/ajouter/", form_data(upload("photo.jpg", data)))
    assert response.status_code == 302
    doc = Document.objects.get()
    served = alice_client.get(f"/documents/{doc.public_id}/fichier/?telecharger=1")
    assert b"".join(served.streaming_content) == data
