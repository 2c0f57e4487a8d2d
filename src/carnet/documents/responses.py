"""The HTTP answer that carries a document's file, the same for the patient and for a
professional (one place for the headers that keep a file from running in our origin)."""

import io
import unicodedata

from django.http import FileResponse

CHUNK = 64 * 1024
# Never in the name the browser saves: path separators and control characters.
NAME_UNSAFE = set("/\\")


def file_name(doc) -> str:
    """The name offered for the file: its title and extension. Quotes and non-ASCII letters
    are encoded by Django (RFC 6266: an escaped quoted string, or filename*=utf-8'')."""
    title = "".join(
        "-" if c in NAME_UNSAFE or unicodedata.category(c)[0] == "C" else c for c in doc.title
    )
    return f"{title.strip() or 'document'}.{doc.extension}"


def file_response(doc, data: bytes, *, download: bool) -> FileResponse:
    """PDF, JPEG and PNG inline in a sandbox (unless `download`); the other types downloaded."""
    # Streamed in chunks from the one decrypted copy (BytesIO shares the bytes' buffer).
    response = FileResponse(
        io.BytesIO(data),
        as_attachment=download,
        filename=file_name(doc),
        content_type=doc.media_type,
    )
    response.block_size = CHUNK
    response["Content-Length"] = str(len(data))
    response["X-Content-Type-Options"] = "nosniff"
    # Whatever the file holds, it cannot run script in our origin.
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "no-store, private"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
