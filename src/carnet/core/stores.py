"""Where sealed blobs live: a local directory (default) or S3-compatible object storage.

Both stores take and give sealed bytes only (encryption happens in `core.blobs`), under
random names. `STORAGE_URL` chooses: empty or `file:///path` for the local directory,
`s3://KEY:SECRET@host:port/bucket?region=…&secure=0&prefix=…` for object storage
(django-storages over boto3).

A store only ever lists and touches names of its own making (64 hexadecimal characters, plus
the local store's leftover temporary files): a foreign file in the directory or the bucket is
never read, listed or deleted.
"""

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings

BLOB_NAME = re.compile(r"[0-9a-f]{64}")
TEMP_PREFIX = ".tmp-"
# A local leftover temporary file, as `LocalStore.listing` names it: "<folder>/.tmp-<random>".
TEMP_NAME = re.compile(r"[0-9a-f]{2}/\.tmp-[A-Za-z0-9_]+")


class BlobMissing(Exception):
    """No stored object has this name."""


def is_temporary(name: str) -> bool:
    """A write that never reached its rename (only the local store has these)."""
    return TEMP_NAME.fullmatch(name) is not None


class LocalStore:
    """Files under one directory, two-character fan-out; writes are atomic and synced."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        # Names come from our own code, but a path is built from them: refuse anything else.
        if BLOB_NAME.fullmatch(name):
            return self.root / name[:2] / name
        if is_temporary(name):
            folder, _, base = name.partition("/")
            return self.root / folder / base
        raise ValueError(f"nom de fichier chiffré invalide : {name!r}")

    def write(self, name: str, sealed: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Temp file in the same folder, synced, then renamed: the final name never shows a
        # partial file, whatever the moment of a crash.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(sealed)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power cut
        finally:
            os.close(dir_fd)

    def read(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError as exc:
            raise BlobMissing(name) from exc

    def write_stream(self, name: str, chunks: Iterable[bytes]) -> int:
        """`write` from chunks, for a file too large to hold whole (the exports): the same
        temporary file, syncs and rename. Returns the number of bytes written."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
        written = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    written += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return written

    def read_stream(self, name: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The stored bytes in chunks of `chunk_size` (BlobMissing at once if absent)."""
        try:
            fh = self._path(name).open("rb")
        except FileNotFoundError as exc:
            raise BlobMissing(name) from exc

        def chunks():
            with fh:
                while chunk := fh.read(chunk_size):
                    yield chunk

        return chunks()

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def listing(self) -> Iterator[tuple[str, datetime | None]]:
        """Every blob and leftover temporary file, with its last modification time (UTC)."""
        if not self.root.exists():
            return
        for path in self.root.glob("*/*"):
            name = path.name
            if name.startswith(TEMP_PREFIX):
                name = f"{path.parent.name}/{path.name}"
            if not (BLOB_NAME.fullmatch(name) or is_temporary(name)):
                continue  # not ours
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue  # removed meanwhile by a purge or a concurrent sweep
            yield name, datetime.fromtimestamp(mtime, tz=UTC)


class S3Store:
    """An S3-compatible bucket through django-storages; a PUT is atomic and durable on return.

    Calls go through the boto3 client of the current thread (`S3Storage.connection` is
    per-thread), not the cached `S3Storage.bucket`, which would share one thread's resource
    with every other thread of the process.
    """

    def __init__(self, url: str):
        from botocore.config import Config
        from storages.backends.s3 import S3Storage

        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.bucket_name = parts.path.strip("/")
        if not parts.hostname or not self.bucket_name or "/" in self.bucket_name:
            raise ValueError(
                "STORAGE_URL : adresse S3 incomplète, attendu "
                "s3://CLE:SECRET@hote:port/compartiment?region=…"
            )
        secure = query.get("secure", "1").lower() not in ("0", "false", "non")
        host = parts.netloc.rpartition("@")[2]  # keeps the port and an IPv6 address's brackets
        self.endpoint = f"{'https' if secure else 'http'}://{host}"
        self.prefix = query.get("prefix", "").strip("/")
        self.storage = S3Storage(
            bucket_name=self.bucket_name,
            endpoint_url=self.endpoint,
            # without credentials in the URL, boto3's own chain applies (environment, role)
            access_key=unquote(parts.username) if parts.username else None,
            secret_key=unquote(parts.password) if parts.password else None,
            region_name=query.get("region", "us-east-1"),
            # path style works with every S3-compatible server (MinIO, Ceph, Garage, AWS)
            addressing_style=query.get("style", "path"),
            file_overwrite=True,
            default_acl=None,
            querystring_auth=False,
            location=self.prefix,
            # A store that does not answer fails in seconds, not after boto3's minute: a web
            # request (or a /readyz probe) must not hold a worker that long.
            # (A client_config replaces django-storages' own: the addressing style goes in it.)
            client_config=Config(
                s3={"addressing_style": query.get("style", "path")},
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3},
            ),
        )

    @property
    def _client(self):
        return self.storage.connection.meta.client

    def _key(self, name: str) -> str:
        if not BLOB_NAME.fullmatch(name):
            raise ValueError(f"nom de fichier chiffré invalide : {name!r}")
        return f"{self.prefix}/{name}" if self.prefix else name

    def write(self, name: str, sealed: bytes) -> None:
        self._client.put_object(
            Bucket=self.bucket_name,
            Key=self._key(name),
            Body=sealed,
            ContentType="application/octet-stream",
        )

    def read(self, name: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self._client.get_object(Bucket=self.bucket_name, Key=self._key(name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobMissing(name) from exc
            raise
        return response["Body"].read()

    def write_stream(self, name: str, chunks: Iterable[bytes], part_size: int = 8 << 20) -> int:
        """`write` from chunks, as a multipart upload of `part_size` parts (S3 wants 5 MiB at
        least but the last): the object appears whole at the completion, or not at all (a
        failure aborts the upload; a crash leaves an incomplete upload, which the bucket's
        AbortIncompleteMultipartUpload rule removes). Returns the number of bytes written."""
        key = self._key(name)
        client = self._client
        upload_id = client.create_multipart_upload(
            Bucket=self.bucket_name, Key=key, ContentType="application/octet-stream"
        )["UploadId"]
        parts: list[dict] = []
        buffer = bytearray()
        written = 0

        def send(body: bytes) -> None:
            number = len(parts) + 1
            etag = client.upload_part(
                Bucket=self.bucket_name, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})

        try:
            for chunk in chunks:
                buffer += chunk
                written += len(chunk)
                while len(buffer) >= part_size:
                    send(bytes(buffer[:part_size]))
                    del buffer[:part_size]
            if buffer or not parts:
                send(bytes(buffer))
            client.complete_multipart_upload(
                Bucket=self.bucket_name,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            client.abort_multipart_upload(Bucket=self.bucket_name, Key=key, UploadId=upload_id)
            raise
        return written

    def read_stream(self, name: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The stored bytes in chunks of `chunk_size` (BlobMissing at once if absent)."""
        from botocore.exceptions import ClientError

        try:
            response = self._client.get_object(Bucket=self.bucket_name, Key=self._key(name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobMissing(name) from exc
            raise
        body = response["Body"]

        def chunks():
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

        return chunks()

    def delete(self, name: str) -> None:
        self._client.delete_object(Bucket=self.bucket_name, Key=self._key(name))

    def exists(self, name: str) -> bool:
        return self.storage.exists(name)

    def listing(self) -> Iterator[tuple[str, datetime | None]]:
        """Every blob directly under the prefix, with its last modification time."""
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket_name, Prefix=start
        )
        for page in pages:
            for obj in page.get("Contents", []):
                name = obj["Key"][len(start) :]
                if BLOB_NAME.fullmatch(name):  # skips deeper keys and foreign objects
                    yield name, obj["LastModified"]


def store_from_url(url: str, blob_dir: Path | str | None = None):
    """The store a `STORAGE_URL` names; empty means the local `blob_dir` (or BLOB_DIR)."""
    if not url:
        return LocalStore(Path(blob_dir if blob_dir is not None else settings.BLOB_DIR))
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not parts.path:
            raise ValueError("STORAGE_URL : chemin absent (file:///chemin/du/dossier)")
        return LocalStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        return S3Store(url)
    raise ValueError(f"STORAGE_URL : schéma inconnu « {parts.scheme} » (file:// ou s3://)")


@cache
def _store_for(url: str, blob_dir: str):
    return store_from_url(url, blob_dir)


def blob_store():
    """The configured store (built once per configuration; tests change the settings)."""
    return _store_for(settings.STORAGE_URL, str(settings.BLOB_DIR))
