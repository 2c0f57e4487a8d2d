"""Where sealed blobs live: a local directory (default) or S3-compatible object storage.

Both stores take and give sealed bytes only (encryption happens in `core.blobs`), under
random names. `STORAGE_URL` chooses: empty or `file:///path` for the local directory,
`s3://KEY:SECRET@host:port/bucket?region=…&secure=0` for object storage (django-storages).
"""

import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings


class BlobMissing(Exception):
    """No stored object has this name."""


class LocalStore:
    """Files under one directory, two-character fan-out; writes are atomic and synced."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if "/" in name:  # a leftover temporary file, named by `listing` with its folder
            folder, _, base = name.partition("/")
            return self.root / folder / base
        return self.root / name[:2] / name

    def write(self, name: str, sealed: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
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

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def listing(self) -> Iterator[tuple[str, datetime | None]]:
        """Every stored name with its last modification time (temporary files included)."""
        if not self.root.exists():
            return
        for path in self.root.glob("*/*"):
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue  # removed meanwhile by a purge or a concurrent sweep
            name = f"{path.parent.name}/{path.name}" if path.name.startswith(".tmp-") else path.name
            yield name, datetime.fromtimestamp(mtime).astimezone()


class S3Store:
    """An S3-compatible bucket through django-storages; a PUT is atomic and durable on return."""

    def __init__(self, url: str):
        from storages.backends.s3 import S3Storage

        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        secure = query.get("secure", "1") not in ("0", "false", "non")
        endpoint = f"{'https' if secure else 'http'}://{parts.hostname}"
        if parts.port:
            endpoint += f":{parts.port}"
        self.bucket_name = parts.path.strip("/")
        self.storage = S3Storage(
            bucket_name=self.bucket_name,
            endpoint_url=endpoint,
            access_key=unquote(parts.username or ""),
            secret_key=unquote(parts.password or ""),
            region_name=query.get("region", "us-east-1"),
            file_overwrite=True,
            default_acl=None,
            querystring_auth=False,
            location=query.get("prefix", ""),
        )

    def write(self, name: str, sealed: bytes) -> None:
        self.storage.bucket.put_object(
            Key=self._key(name), Body=sealed, ContentType="application/octet-stream"
        )

    def _key(self, name: str) -> str:
        prefix = self.storage.location.strip("/")
        return f"{prefix}/{name}" if prefix else name

    def read(self, name: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.storage.bucket.Object(self._key(name)).get()["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobMissing(name) from exc
            raise

    def delete(self, name: str) -> None:
        self.storage.bucket.Object(self._key(name)).delete()

    def exists(self, name: str) -> bool:
        return self.storage.exists(name)

    def listing(self) -> Iterator[tuple[str, datetime | None]]:
        prefix = self.storage.location.strip("/")
        for obj in self.storage.bucket.objects.filter(Prefix=f"{prefix}/" if prefix else ""):
            yield obj.key.rsplit("/", 1)[-1], obj.last_modified


def store_from_url(url: str):
    if not url:
        return LocalStore(settings.BLOB_DIR)
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return LocalStore(Path(unquote(urlsplit(url).path)))
    if scheme == "s3":
        return S3Store(url)
    raise ValueError(f"STORAGE_URL : schéma inconnu « {scheme} » (file:// ou s3://)")


@cache
def _store_for(url: str, blob_dir: str):
    return store_from_url(url)


def blob_store():
    """The configured store (built once per configuration; tests change the settings)."""
    return _store_for(settings.STORAGE_URL, str(settings.BLOB_DIR))
