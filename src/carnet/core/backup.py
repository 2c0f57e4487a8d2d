"""`carnet backup DIR` and `carnet restore DIR`: a consistent snapshot of an installation.

What a backup holds: the database (SQLite's online backup API, or `pg_dump` in the custom
format), every encrypted blob the database points to (copied as stored: still sealed), and
`manifest.json` with the SHA-256 of the database file and of every blob. The manifest is written
last: a folder without it is an unfinished backup. What it never holds: the key-encryption keys
(`CARNET_KEYS`), the HMAC key and `SECRET_KEY` — they live in the secret store of the deployment
and are needed, the same, to read a restored installation (docs/operations.md).

Consistency: on PostgreSQL the dump and the list of blobs come from one exported snapshot (a
REPEATABLE READ transaction whose snapshot `pg_dump --snapshot` uses); on SQLite the list comes
from the copy itself. A blob is durable before its row commits (invariant 5), so every listed
blob exists — unless a purge deleted it meanwhile, which the backup reports as missing.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from . import clock
from .stores import blob_store

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"


class BackupError(Exception):
    """In French, for the operator."""


@dataclass
class Report:
    blobs: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_args() -> tuple[list[str], dict]:
    db = settings.DATABASES["default"]
    args = []
    if db.get("HOST"):
        args += ["--host", db["HOST"]]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", db["USER"]]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]  # never on the command line
    return args + ["--dbname", db["NAME"]], env


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} introuvable : installez le client PostgreSQL")
    return path


def _blob_path(folder: Path, key: str) -> Path:
    return folder / "blobs" / key[:2] / key


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def backup(folder: Path) -> Report:
    """Write a snapshot into `folder` (absent or empty)."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"le dossier {folder} n'est pas vide : choisissez un dossier neuf")
    folder.mkdir(parents=True, exist_ok=True)
    vendor = connection.vendor
    if vendor == "sqlite":
        database = folder / SQLITE_FILE
        connection.ensure_connection()
        target = sqlite3.connect(database)
        try:
            connection.connection.backup(target)  # an online, consistent copy
        finally:
            target.close()
        with sqlite3.connect(database) as copy:
            rows = copy.execute("SELECT key FROM core_blob ORDER BY key").fetchall()
    elif vendor == "postgresql":
        database = folder / PG_FILE
        args, env = _pg_args()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
            dumped = subprocess.run(  # noqa: S603 (our program, arguments from settings)
                [_program("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                 f"--snapshot={snapshot}", "--file", str(database), *args],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if dumped.returncode:
                raise BackupError(f"pg_dump a échoué : {dumped.stderr.strip()[:500]}")
            cursor.execute("SELECT key FROM core_blob ORDER BY key")
            rows = cursor.fetchall()
    else:
        raise BackupError(f"base {vendor} non prise en charge")
    _fsync(database)

    store, report, listed = blob_store(), Report(), []
    for (key,) in rows:
        path = _blob_path(folder, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        try:
            with path.open("wb") as handle:
                for chunk in store.read_stream(key):
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except Exception:  # noqa: BLE001 (any store error: the blob is reported missing)
            path.unlink(missing_ok=True)
            report.missing.append(key)
            continue
        listed.append({"key": key, "size": path.stat().st_size, "sha256": digest.hexdigest()})
        report.blobs += 1
        report.bytes += path.stat().st_size

    manifest = {
        "format": FORMAT,
        "created_at": clock.now().isoformat(),
        "database": {"vendor": vendor, "file": database.name, "sha256": _sha256_file(database)},
        "blobs": listed,
        "missing": report.missing,
        # Which key-encryption keys the data keys are wrapped with: ids only, never the keys.
        "kek_ids": sorted(_kek_ids()),
    }
    temporary = folder / f"{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=1))
    _fsync(temporary)
    temporary.replace(folder / MANIFEST)  # last: the backup is complete
    return report


def _kek_ids() -> set[str]:
    from .models import DataKey

    return set(DataKey.objects.values_list("kek_id", flat=True).distinct())


def _manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise BackupError(f"{path} absent : la sauvegarde est incomplète ou ce n'en est pas une")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"format de sauvegarde inconnu : {manifest.get('format')}")
    return manifest


def verify(folder: Path) -> dict:
    """Check every checksum of the backup; BackupError naming the first damaged file."""
    folder = Path(folder)
    manifest = _manifest(folder)
    database = folder / manifest["database"]["file"]
    if not database.exists() or _sha256_file(database) != manifest["database"]["sha256"]:
        raise BackupError(f"{database.name} absent ou endommagé")
    for blob in manifest["blobs"]:
        path = _blob_path(folder, blob["key"])
        if not path.exists() or _sha256_file(path) != blob["sha256"]:
            raise BackupError(f"fichier chiffré {blob['key']} absent ou endommagé")
    return manifest


def restore(folder: Path) -> Report:
    """Restore `folder` into this installation, which must be empty (no table, no blob)."""
    folder = Path(folder)
    manifest = verify(folder)
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise BackupError(f"sauvegarde d'une base {vendor}, installation sur {connection.vendor}")
    if connection.introspection.table_names():
        raise BackupError("la base n'est pas vide : la restauration se fait dans une base neuve")
    store = blob_store()
    if next(iter(store.listing()), None) is not None:
        raise BackupError("le stockage des fichiers n'est pas vide")

    report = Report()
    # Blobs first: a row never points to a file that is not there (invariant 5).
    for blob in manifest["blobs"]:
        path = _blob_path(folder, blob["key"])
        with path.open("rb") as handle:
            store.write_stream(blob["key"], iter(lambda h=handle: h.read(1 << 20), b""))
        report.blobs += 1
        report.bytes += blob["size"]
    database = folder / manifest["database"]["file"]
    if vendor == "sqlite":
        connection.ensure_connection()
        with sqlite3.connect(database) as source:
            source.backup(connection.connection)
    else:
        args, env = _pg_args()
        restored = subprocess.run(  # noqa: S603 (our program, arguments from settings)
            [_program("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", *args,
             str(database)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if restored.returncode:
            raise BackupError(f"pg_restore a échoué : {restored.stderr.strip()[:500]}")
    report.missing = list(manifest["missing"])
    return report
