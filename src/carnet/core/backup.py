"""`carnet backup DIR` and `carnet restore DIR`: a consistent snapshot of an installation.

What a backup holds: the database (SQLite's online backup API, or `pg_dump` in the custom
format), every encrypted blob the database points to (copied as stored: still sealed), and
`manifest.json` with the SHA-256 of the database file and of every blob, authenticated by an
HMAC-SHA-256 under a key derived from `CARNET_HMAC_KEY`. The manifest is written last: a folder
without it is an unfinished backup. What it never holds: the key-encryption keys
(`CARNET_KEYS`), the HMAC key and `SECRET_KEY` — they live in the secret store of the deployment
and are needed, the same, to read a restored installation (docs/operations.md).

The database file is not encrypted: it holds identities, the medical profile, document titles,
TOTP seeds and session keys in clear. So the folder is created 0700 and every file 0600, and
the backup must be kept on encrypted, access-controlled storage.

Consistency: on PostgreSQL the dump and the list of blobs come from one exported snapshot (a
REPEATABLE READ transaction whose snapshot `pg_dump --snapshot` uses); on SQLite the list comes
from the copy itself. A blob is durable before its row commits (invariant 5), so every listed
blob exists — unless a purge deleted it meanwhile, which the backup reports as missing.

Restore trusts nothing of the folder before checking it: the manifest's HMAC first, then its
schema (names built by us only, no path), then every file (inside the folder, no symbolic link,
size and SHA-256) — all before the first write.
"""

import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from . import clock
from .stores import BLOB_NAME, blob_store

FORMAT = 2  # 2: the manifest carries an HMAC
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"
DATABASE_FILES = {"sqlite": SQLITE_FILE, "postgresql": PG_FILE}
SHA256 = re.compile(r"[0-9a-f]{64}")
FOLDER_MODE, FILE_MODE = 0o700, 0o600
NOT_AUTHENTIC = (
    "Le manifeste de la sauvegarde n'est pas authentique : il a été modifié, ou il n'a pas été "
    "écrit avec la clé CARNET_HMAC_KEY de cette installation."
)
# libpq's connection parameters that have an environment variable, by the names Django's
# OPTIONS give them (DATABASE_URL's query string): pg_dump and pg_restore must connect as
# Django does, above all with the same TLS checks. Django's own options (isolation_level,
# pool…) and the few libpq ones without a variable (keepalives…) are left out.
LIBPQ_ENVIRONMENT = {
    "hostaddr": "PGHOSTADDR",
    "passfile": "PGPASSFILE",
    "require_auth": "PGREQUIREAUTH",
    "channel_binding": "PGCHANNELBINDING",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "sslmode": "PGSSLMODE",
    "requiressl": "PGREQUIRESSL",
    "sslnegotiation": "PGSSLNEGOTIATION",
    "sslcompression": "PGSSLCOMPRESSION",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcertmode": "PGSSLCERTMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "sslcrldir": "PGSSLCRLDIR",
    "requirepeer": "PGREQUIREPEER",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "gssencmode": "PGGSSENCMODE",
    "krbsrvname": "PGKRBSRVNAME",
    "gsslib": "PGGSSLIB",
    "gssdelegation": "PGGSSDELEGATION",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "client_encoding": "PGCLIENTENCODING",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "load_balance_hosts": "PGLOADBALANCEHOSTS",
}
# What pg_dump and pg_restore get of our environment, with the PG* and LC_* variables: not
# SECRET_KEY, CARNET_KEYS nor CARNET_HMAC_KEY. HOME for libpq's ~/.pgpass and ~/.postgresql/.
KEPT_ENVIRONMENT = ("PATH", "HOME", "LANG", "TZ")


class BackupError(Exception):
    """In French, for the operator."""


@dataclass
class Report:
    blobs: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)


def _open_read(path: Path):
    # O_NOFOLLOW: a symbolic link put in place of a checked file is refused, not followed.
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")


def _open_new(path: Path):
    """A new file, 0600 whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    return os.fdopen(os.open(path, flags, FILE_MODE), "wb")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with _open_read(path) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_args() -> tuple[list[str], dict[str, str]]:
    """Arguments and environment for pg_dump/pg_restore, to connect as Django does."""
    db = settings.DATABASES["default"]
    args = []
    if db.get("HOST"):
        args += ["--host", db["HOST"]]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", db["USER"]]
    env = {
        key: value
        for key, value in os.environ.items()
        if key in KEPT_ENVIRONMENT or key.startswith(("LC_", "PG"))
    }
    for option, value in (db.get("OPTIONS") or {}).items():
        if option in LIBPQ_ENVIRONMENT and value is not None:
            env[LIBPQ_ENVIRONMENT[option]] = str(int(value) if isinstance(value, bool) else value)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]  # never on the command line
    return args + ["--dbname", db["NAME"]], env


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} introuvable : installez le client PostgreSQL")
    return path


def _blob_relative(key: str) -> Path:
    return Path("blobs", key[:2], key)


def _blob_path(folder: Path, key: str) -> Path:
    return folder / _blob_relative(key)


def _fsync(path: Path) -> None:
    with _open_read(path) as handle:
        os.fsync(handle.fileno())


def _manifest_key() -> bytes:
    # Derived, never CARNET_HMAC_KEY itself: a manifest's MAC and a code's keyed hash
    # (crypto.keyed_hash, always "purpose:secret") can never stand for each other.
    key = settings.CARNET_HMAC_KEY.encode()
    return hmac.new(key, b"carnet-backup-manifest", hashlib.sha256).digest()


def manifest_hmac(manifest: dict) -> str:
    """HMAC-SHA-256 of the manifest's canonical JSON, every key but "hmac"."""
    content = {key: value for key, value in manifest.items() if key != "hmac"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(_manifest_key(), canonical.encode(), hashlib.sha256).hexdigest()


@contextmanager
def _private() -> Iterator[None]:
    """Whatever is created meanwhile (by us, SQLite or pg_dump) is the operator's alone: the
    database copy holds health data in clear. The umask is the process's: a backup runs in a
    command of its own, and a stricter umask only makes a concurrent file more private."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def _check_private(folder: Path) -> None:
    """Refuse the backup if anything in it is open to other accounts (a umask is not a proof:
    an ACL or a file system may have its own idea)."""
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            raise BackupError(
                f"{path} est accessible à d'autres comptes (droits {mode:o}) : sauvegarde "
                "interrompue. Choisissez un dossier sur un stockage qui respecte les droits."
            )


def backup(folder: Path) -> Report:
    """Write a snapshot into `folder` (absent or empty)."""
    folder = Path(folder).absolute()  # pg_dump never reads a folder named "-x" as an option
    if folder.exists() and not folder.is_dir():
        raise BackupError(f"{folder} n'est pas un dossier : choisissez un dossier neuf")
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"le dossier {folder} n'est pas vide : choisissez un dossier neuf")
    with _private():
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        folder.chmod(FOLDER_MODE)  # an empty folder made beforehand, too
        report = _backup(folder)
    return report


def _backup(folder: Path) -> Report:
    vendor = connection.vendor
    if vendor not in DATABASE_FILES:
        raise BackupError(f"base {vendor} non prise en charge")
    database = folder / DATABASE_FILES[vendor]
    _open_new(database).close()  # 0600 before a byte is written; SQLite's journal copies it
    if vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(database)
        try:
            connection.connection.backup(target)  # an online, consistent copy
        finally:
            target.close()
        with closing(sqlite3.connect(database)) as copy:  # closed: no -wal left beside it
            rows = copy.execute("SELECT key FROM core_blob ORDER BY key").fetchall()
    else:
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
    _fsync(database)

    store, report, listed = blob_store(), Report(), []
    for (key,) in rows:
        path = _blob_path(folder, key)
        path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        digest = hashlib.sha256()
        try:
            with _open_new(path) as handle:
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
    manifest["hmac"] = manifest_hmac(manifest)
    temporary = folder / f"{MANIFEST}.tmp"
    with _open_new(temporary) as handle:
        handle.write(json.dumps(manifest, indent=1).encode())
        handle.flush()
        os.fsync(handle.fileno())
    _check_private(folder)
    temporary.replace(folder / MANIFEST)  # last: the backup is complete
    return report


def _kek_ids() -> set[str]:
    from .models import DataKey

    return set(DataKey.objects.values_list("kek_id", flat=True).distinct())


def _manifest(folder: Path) -> dict:
    """The manifest, authenticated then validated: nothing of it is used before."""
    path = folder / MANIFEST
    try:
        with _open_read(path) as handle:
            manifest = json.loads(handle.read())
    except FileNotFoundError:
        raise BackupError(
            f"{path} absent : la sauvegarde est incomplète ou ce n'en est pas une"
        ) from None
    except (OSError, ValueError) as exc:  # a link (O_NOFOLLOW), a folder, not JSON
        raise BackupError(f"{path} illisible : ce n'est pas un manifeste de sauvegarde") from exc
    given = manifest.get("hmac") if isinstance(manifest, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode(), manifest_hmac(manifest).encode()
    ):
        raise BackupError(NOT_AUTHENTIC)
    _validate(manifest)
    return manifest


def _validate(manifest: dict) -> None:
    """The manifest's schema: our own names only (no path), integer sizes, hex digests."""
    if manifest.get("format") != FORMAT:
        raise BackupError(f"format de sauvegarde inconnu : {manifest.get('format')!r}")

    def invalid(what: str) -> BackupError:
        return BackupError(f"manifeste de sauvegarde invalide : {what}")

    database = manifest.get("database")
    if not isinstance(database, dict) or database.get("vendor") not in DATABASE_FILES:
        raise invalid("base de données non prise en charge ou absente")
    if database.get("file") != DATABASE_FILES[database["vendor"]]:
        raise invalid(f"fichier de base {database.get('file')!r} refusé")
    if not _is_sha256(database.get("sha256")):
        raise invalid("empreinte de la base absente ou mal formée")
    blobs, seen = manifest.get("blobs"), set()
    if not isinstance(blobs, list):
        raise invalid("liste des fichiers chiffrés absente")
    for blob in blobs:
        key = blob.get("key") if isinstance(blob, dict) else None
        if not isinstance(key, str) or not BLOB_NAME.fullmatch(key):
            raise invalid(
                f"nom de fichier chiffré {key!r} refusé (64 caractères hexadécimaux attendus)"
            )
        if key in seen:
            raise invalid(f"fichier chiffré {key} listé deux fois")
        seen.add(key)
        size = blob.get("size")
        if type(size) is not int or size < 0:  # not a bool, a float or a string
            raise invalid(f"taille du fichier chiffré {key} mal formée")
        if not _is_sha256(blob.get("sha256")):
            raise invalid(f"empreinte du fichier chiffré {key} mal formée")
    for name in ("missing", "kek_ids"):
        values = manifest.get(name)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise invalid(f"liste « {name} » mal formée")


def _is_sha256(value) -> bool:
    return isinstance(value, str) and SHA256.fullmatch(value) is not None


def _member(root: Path, relative: Path) -> Path | None:
    """root / relative if it is a regular file there, None if absent. No part of it may be a
    symbolic link, and it must resolve inside root (the backup folder, resolved)."""
    path = root
    for part in relative.parts:
        path = path / part
        if path.is_symlink():
            raise BackupError(f"{relative} est un lien symbolique : sauvegarde refusée")
    if not path.resolve().is_relative_to(root):
        raise BackupError(f"{relative} sort du dossier de la sauvegarde : refusé")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    return path if stat.S_ISREG(mode) else None


def _check_files(folder: Path, manifest: dict) -> None:
    """Every file of the manifest is in the folder, with its size and SHA-256."""
    root = folder.resolve()
    name = manifest["database"]["file"]
    database = _member(root, Path(name))
    if database is None or _sha256_file(database) != manifest["database"]["sha256"]:
        raise BackupError(f"{name} absent ou endommagé")
    for blob in manifest["blobs"]:
        path = _member(root, _blob_relative(blob["key"]))
        if (
            path is None
            or path.stat().st_size != blob["size"]
            or _sha256_file(path) != blob["sha256"]
        ):
            raise BackupError(f"fichier chiffré {blob['key']} absent ou endommagé")


def verify(folder: Path) -> dict:
    """Check the manifest's HMAC and schema, then every file's size and SHA-256; BackupError
    naming the first fault."""
    folder = Path(folder)
    manifest = _manifest(folder)
    _check_files(folder, manifest)
    return manifest


def restore(folder: Path) -> Report:
    """Restore `folder` into this installation, which must be empty (no table, no blob)."""
    folder = Path(folder).resolve()  # absolute: pg_restore never reads it as an option
    manifest = _manifest(folder)
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise BackupError(f"sauvegarde d'une base {vendor}, installation sur {connection.vendor}")
    _check_files(folder, manifest)
    if connection.introspection.table_names():
        raise BackupError("la base n'est pas vide : la restauration se fait dans une base neuve")
    store = blob_store()
    if next(iter(store.listing()), None) is not None:
        raise BackupError("le stockage des fichiers n'est pas vide")

    # Every check is above: from here on, only writes.
    report, written = Report(), []
    try:
        # Blobs first: a row never points to a file that is not there (invariant 5).
        for blob in manifest["blobs"]:
            with _open_read(_blob_path(folder, blob["key"])) as handle:
                store.write_stream(blob["key"], iter(lambda h=handle: h.read(1 << 20), b""))
            written.append(blob["key"])
            report.blobs += 1
            report.bytes += blob["size"]
        _restore_database(folder / manifest["database"]["file"], vendor)
    except BaseException:
        # The database is left empty (one transaction): empty the store again, so that the
        # restore can simply be run again.
        for key in written:
            with suppress(Exception):
                store.delete(key)
        raise
    report.missing = list(manifest["missing"])
    return report


def _restore_database(database: Path, vendor: str) -> None:
    if vendor == "sqlite":
        connection.ensure_connection()
        try:
            with closing(sqlite3.connect(database)) as source:
                source.backup(connection.connection)
        except sqlite3.Error as exc:
            raise BackupError(f"restauration de la base impossible : {exc}") from exc
        return
    args, env = _pg_args()
    restored = subprocess.run(  # noqa: S603 (our program, arguments from settings)
        [_program("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
         "--single-transaction", *args, str(database)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if restored.returncode:
        raise BackupError(f"pg_restore a échoué : {restored.stderr.strip()[:500]}")
