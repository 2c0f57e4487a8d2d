"""Backup and restore drill: a populated installation is saved with `carnet backup`, restored
elsewhere (another database, another blob folder) with `carnet restore` run as the operator
runs it, then checked there: every document's SHA-256, every audit chain, and a login. Then
what a backup must withstand: other local accounts (modes), a forged or edited manifest (HMAC,
names, paths, symbolic links), and a connection to PostgreSQL weaker than Django's (TLS)."""

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from carnet.core import backup as backups
from carnet.core.backup import BackupError
from carnet.core.stores import blob_store
from carnet.documents.models import Document
from carnet.enrollment.selectors import own_space
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import PASSWORD, activate
from tests.exports.conftest import add_document

# The backup opens its own transaction (REPEATABLE READ on PostgreSQL): never inside a test's.
drill = pytest.mark.django_db(transaction=True)

CARNET = str(Path(sys.executable).with_name("carnet"))
EMAIL = "alice.martin@exemple.fr"

# Run in the restored installation: every document decrypted and its SHA-256 compared, then a
# whole login (password, then the code read from the outbox).
CHECK = """
import hashlib, json, re
from django.test import Client
from carnet.core.blobs import blob_read
from carnet.documents.models import Document
from carnet.notifications.models import OutboxMessage
checked = 0
for document in Document.objects.select_related("blob"):
    assert hashlib.sha256(blob_read(document.blob)).hexdigest() == document.blob.sha256
    checked += 1
client = Client()
step = client.post("/connexion/", {"identifier": "alice.martin", "password": "{password}"})
assert step["Location"] == "/connexion/mode/", step.status_code
client.post("/connexion/mode/", {"channel": "email"})
message = OutboxMessage.objects.filter(to="{email}", kind="code_acces").latest("id")
code = re.search(r"(?<!\\d)(\\d{6})(?!\\d)", message.body).group(1)
assert client.post("/connexion/code/", {"code": code}).status_code == 302
print(json.dumps({"documents": checked, "logged_in": "_auth_user_id" in client.session}))
""".replace("{password}", PASSWORD).replace("{email}", EMAIL)


@pytest.fixture
def populated(issue_code):
    alice = activate(issue_code(first_name="Alice", email=EMAIL), identifier="alice.martin")
    space = own_space(alice)
    for n in range(3):
        add_document(alice, space, f"Compte rendu {n}", f"cr{n}.pdf", pdf_bytes(f"Document {n}"))
    return alice


@pytest.fixture
def elsewhere(tmp_path, settings):
    """The environment of another, empty installation: its own database and blob folder, the
    same keys (they come from the secret store, never from the backup: here, var/ whatever
    the working directory)."""
    dropped = ("STORAGE_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")  # the real settings
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        CARNET_DEMO="1",
        CARNET_BLOB_DIR=str(tmp_path / "ailleurs-blobs"),
        CARNET_VAR_DIR=str(settings.VAR_DIR),
    )
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'ailleurs.sqlite3'}"
        yield env
        return
    name = f"carnet_drill_{uuid.uuid4().hex[:8]}"
    subprocess.run(["createdb", name], check=True)
    env["DATABASE_URL"] = f"postgres:///{name}"
    yield env
    subprocess.run(["dropdb", "--if-exists", name], check=True)


def carnet(env, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CARNET, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


@drill
def test_a_backup_restored_elsewhere_has_every_document_every_chain_and_logs_in(
    populated, elsewhere, tmp_path
):
    folder = tmp_path / "-sauvegarde"  # named like an option: pg_restore must not take it so
    call_command("backup", str(folder))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["hmac"] == backups.manifest_hmac(manifest)
    assert len(manifest["blobs"]) == Document.objects.count() == 3
    assert manifest["missing"] == []
    assert manifest["kek_ids"]  # which keys are needed, by id
    # The keys themselves are never in the backup.
    from django.conf import settings

    written = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    for secret in settings.CARNET_KEYS.values():
        assert secret.encode() not in written and base64.b64decode(secret) not in written

    restored = carnet(elsewhere, "restore", "--", folder.name, cwd=tmp_path)  # relative
    assert restored.returncode == 0, restored.stderr
    assert "3 fichiers chiffrés" in restored.stdout
    verified = carnet(elsewhere, "audit", "verify")
    assert verified.returncode == 0, verified.stderr + verified.stdout
    checked = carnet(elsewhere, "shell", "-c", CHECK)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout.strip().splitlines()[-1]) == {
        "documents": 3,
        "logged_in": True,
    }

    # A second restore into the now populated installation is refused, nothing changed.
    again = carnet(elsewhere, "restore", str(folder))
    assert again.returncode != 0
    assert "n'est pas vide" in again.stderr


@drill
def test_a_damaged_backup_is_refused_before_anything_is_written(populated, elsewhere, tmp_path):
    folder = tmp_path / "sauvegarde"
    call_command("backup", str(folder))
    blob = next((folder / "blobs").rglob("*"))
    while blob.is_dir():
        blob = next(blob.iterdir())
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    restored = carnet(elsewhere, "restore", str(folder))
    assert restored.returncode != 0
    assert "absent ou endommagé" in restored.stderr
    assert not (tmp_path / "ailleurs-blobs").exists() or not any(
        (tmp_path / "ailleurs-blobs").rglob("*")
    )


@drill
def test_an_unfinished_backup_is_not_restored(populated, elsewhere, tmp_path):
    folder = tmp_path / "sauvegarde"
    call_command("backup", str(folder))
    (folder / "manifest.json").unlink()  # as if the backup had been cut before its end
    restored = carnet(elsewhere, "restore", str(folder))
    assert restored.returncode != 0
    assert "incomplète" in restored.stderr


@drill
def test_a_backup_goes_only_into_a_new_folder(populated, tmp_path):
    folder = tmp_path / "occupé"
    folder.mkdir()
    (folder / "autre-chose.txt").write_text("déjà là")
    with pytest.raises(CommandError, match="n'est pas vide"):
        call_command("backup", str(folder))


@drill
def test_a_referenced_file_missing_from_the_store_fails_the_backup_and_is_listed(
    populated, tmp_path
):
    gone = Document.objects.select_related("blob").first().blob.key
    blob_store().delete(gone)  # as if a purge had removed it during the backup
    folder = tmp_path / "sauvegarde"
    with pytest.raises(CommandError, match="1 fichiers référencés étaient absents"):
        call_command("backup", str(folder))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["missing"] == [gone]
    assert len(manifest["blobs"]) == 2


# --- Other local accounts: the database copy holds health data in clear ----------------------


@drill
@pytest.mark.parametrize("made_beforehand", [False, True], ids=["dossier-neuf", "dossier-vide"])
def test_a_backup_is_private_to_the_operators_account(populated, tmp_path, made_beforehand):
    """The dump holds the medical profile, titles, identities, TOTP seeds and session keys:
    with a usual umask (022), nothing of the backup may be open to another account."""
    folder = tmp_path / "sauvegarde"
    if made_beforehand:
        folder.mkdir(mode=0o755)
    previous = os.umask(0o022)
    try:
        call_command("backup", str(folder))
        assert os.umask(0o022) == 0o022  # the operator's umask is given back
    finally:
        os.umask(previous)
    modes = {
        str(path.relative_to(tmp_path)): stat.S_IMODE(path.lstat().st_mode)
        for path in [folder, *folder.rglob("*")]
    }
    assert sum(1 for path in folder.rglob("*") if path.is_file()) == 5  # base, 3, manifest
    expected = {name: 0o700 if (tmp_path / name).is_dir() else 0o600 for name in modes}
    assert modes == expected


# --- The manifest: authenticated, then every name and path checked, before any write --------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_manifest(folder: Path, manifest: dict, *, sign: bool = True) -> None:
    """As `carnet backup` writes it; `sign=True` is what only the HMAC key's holder can do."""
    if sign:
        manifest["hmac"] = backups.manifest_hmac(manifest)
    (folder / backups.MANIFEST).write_text(json.dumps(manifest))


def _forged(folder: Path, database_file: str, database_sha: str, blobs=()) -> dict:
    """A manifest of the current format, signed with this installation's key: what the schema
    and path checks must refuse even when the HMAC is right."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": backups.FORMAT,
        "created_at": "2027-01-01T00:00:00+00:00",
        "database": {"vendor": "sqlite", "file": database_file, "sha256": database_sha},
        "blobs": list(blobs),
        "missing": [],
        "kek_ids": ["k1"],
    }
    _write_manifest(folder, manifest)
    return manifest


@pytest.mark.parametrize("edit", ["blob", "database", "hmac-absent", "autre-cle"])
@drill
def test_an_edited_manifest_is_not_authentic_even_with_recomputed_digests(
    populated, tmp_path, settings, edit
):
    """Whoever can write to the backup can replace a file and recompute its SHA-256: without
    CARNET_HMAC_KEY (in the secret store, never in the backup) the manifest no longer holds."""
    folder = tmp_path / "sauvegarde"
    call_command("backup", str(folder))
    manifest = json.loads((folder / backups.MANIFEST).read_text())
    if edit == "blob":
        entry = manifest["blobs"][0]
        path = backups._blob_path(folder, entry["key"])
        path.write_bytes(b"un autre contenu, non chiffre")
        entry.update(size=path.stat().st_size, sha256=_sha(path))
    elif edit == "database":
        database = folder / manifest["database"]["file"]
        database.write_bytes(database.read_bytes() + b"\0")
        manifest["database"]["sha256"] = _sha(database)
    elif edit == "hmac-absent":
        del manifest["hmac"]
    else:  # written by an installation with another key
        ours = settings.CARNET_HMAC_KEY
        settings.CARNET_HMAC_KEY = "une-autre-cle-hmac-que-celle-de-cette-installation"
        manifest["hmac"] = backups.manifest_hmac(manifest)
        settings.CARNET_HMAC_KEY = ours
    _write_manifest(folder, manifest, sign=False)
    with pytest.raises(BackupError, match="n'est pas authentique"):
        backups.verify(folder)
    with pytest.raises(CommandError, match="n'est pas authentique"):
        call_command("restore", str(folder))


@pytest.mark.parametrize(
    "name",
    ["{elsewhere}", "../ailleurs.sqlite3", "sous-dossier/database.sqlite3", "database.dump", ""],
)
def test_verify_refuses_a_database_file_outside_the_backup(tmp_path, name):
    """Even with a right HMAC, "file" is our own file name, never a path: restore would load
    whatever it names as the installation's database."""
    elsewhere = tmp_path / "ailleurs.sqlite3"
    elsewhere.write_bytes(b"SQLite format 3\x00 une autre base")
    folder = tmp_path / "sauvegarde"
    (folder / "sous-dossier").mkdir(parents=True)
    (folder / "sous-dossier" / "database.sqlite3").write_bytes(elsewhere.read_bytes())
    (folder / "database.dump").write_bytes(elsewhere.read_bytes())
    _forged(folder, name.format(elsewhere=elsewhere), _sha(elsewhere))
    with pytest.raises(BackupError, match="fichier de base .* refusé"):
        backups.verify(folder)


@pytest.mark.parametrize(
    "key", ["../../secret", "AB" * 32, "ab" * 31, "ab" * 32 + "/x", None, ["ab" * 32]]
)
def test_verify_refuses_a_blob_key_that_is_not_one_of_ours(tmp_path, key):
    folder = tmp_path / "a" / "b" / "sauvegarde"
    folder.mkdir(parents=True)
    database = folder / backups.SQLITE_FILE
    database.write_bytes(b"base")
    target = tmp_path / "secret"
    target.write_bytes(b"un fichier hors de la sauvegarde")
    blobs = [{"key": key, "size": 32, "sha256": _sha(target)}]
    _forged(folder, database.name, _sha(database), blobs)
    with pytest.raises(BackupError, match="nom de fichier chiffré .* refusé"):
        backups.verify(folder)


@pytest.mark.parametrize(
    "entry",
    [
        {"size": "6"},
        {"size": True},
        {"size": 6.0},
        {"size": -1},
        {"sha256": "0" * 63},
        {"sha256": None},
    ],
    ids=["texte", "booleen", "decimale", "negative", "sha-court", "sha-nul"],
)
def test_verify_refuses_a_malformed_blob_entry(tmp_path, entry):
    folder = tmp_path / "sauvegarde"
    folder.mkdir()
    database = folder / backups.SQLITE_FILE
    database.write_bytes(b"base")
    blob = {"key": "ab" * 32, "size": 6, "sha256": "0" * 64, **entry}
    _forged(folder, database.name, _sha(database), [blob])
    with pytest.raises(BackupError, match="manifeste de sauvegarde invalide"):
        backups.verify(folder)


@pytest.mark.parametrize("link", ["database", "blob", "fan-out", "blobs"])
def test_verify_refuses_a_symbolic_link_in_the_backup(tmp_path, link):
    """A link would let the backup's files be read from anywhere on the host."""
    outside = tmp_path / "ailleurs"
    key = "ab" * 32
    (outside / "blobs" / "ab").mkdir(parents=True)
    (outside / "blobs" / "ab" / key).write_bytes(b"scelle")
    (outside / "database.sqlite3").write_bytes(b"base")
    folder = tmp_path / "sauvegarde"
    (folder / "blobs" / "ab").mkdir(parents=True)
    (folder / "blobs" / "ab" / key).write_bytes(b"scelle")
    (folder / "database.sqlite3").write_bytes(b"base")
    linked = {
        "database": Path("database.sqlite3"),
        "blob": Path("blobs", "ab", key),
        "fan-out": Path("blobs", "ab"),
        "blobs": Path("blobs"),
    }[link]
    replaced = folder / linked
    if replaced.is_dir():
        for path in sorted(replaced.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        replaced.rmdir()
    else:
        replaced.unlink()
    replaced.symlink_to(outside / linked)
    blobs = [{"key": key, "size": 6, "sha256": hashlib.sha256(b"scelle").hexdigest()}]
    _forged(folder, "database.sqlite3", hashlib.sha256(b"base").hexdigest(), blobs)
    with pytest.raises(BackupError, match="lien symbolique"):
        backups.verify(folder)


def test_restore_checks_every_key_before_writing_any_blob(tmp_path):
    """A bad key found only when its turn comes to be written would leave the blobs before it
    in the store, which, no longer empty, refuses the restore run again."""
    folder = tmp_path / "sauvegarde"
    folder.mkdir()
    database = folder / backups.SQLITE_FILE
    database.write_bytes(b"base")
    good = "ab" * 32
    good_path = backups._blob_path(folder, good)
    good_path.parent.mkdir(parents=True)
    good_path.write_bytes(b"scelle")
    blobs = [
        {"key": good, "size": 6, "sha256": _sha(good_path)},
        {"key": "../../secret", "size": 15, "sha256": "0" * 64},
    ]
    _forged(folder, database.name, _sha(database), blobs)
    with pytest.raises(BackupError, match=r"nom de fichier chiffré '\.\./\.\./secret' refusé"):
        backups.restore(folder)
    assert list(blob_store().listing()) == []


@drill
def test_a_restore_that_fails_at_the_database_leaves_the_store_empty(
    populated, elsewhere, tmp_path
):
    """Blobs go first (invariant 5); if the database then fails (one transaction, so left
    empty), they are removed: the installation is empty again, and the restore can be rerun."""
    folder = tmp_path / "sauvegarde"
    call_command("backup", str(folder))
    manifest = json.loads((folder / backups.MANIFEST).read_text())
    database = folder / manifest["database"]["file"]
    database.write_bytes(b"ni une base SQLite ni une archive pg_dump")
    manifest["database"]["sha256"] = _sha(database)
    _write_manifest(folder, manifest)  # signed: every check passes
    restored = carnet(elsewhere, "restore", str(folder))
    assert restored.returncode != 0
    blobs = tmp_path / "ailleurs-blobs"
    assert [path for path in blobs.rglob("*") if path.is_file()] == []


# --- PostgreSQL: pg_dump and pg_restore connect as Django does, with no secret of ours ------


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_pg_dump_gets_the_databases_tls_options_and_no_secret(settings, monkeypatch):
    """DATABASE_URL=...?sslmode=verify-full is honoured by Django: pg_dump and pg_restore must
    not fall back to libpq's default (prefer), nor inherit the application's keys."""
    for name in ("SECRET_KEY", "CARNET_KEYS", "CARNET_HMAC_KEY", "DATABASE_URL"):
        monkeypatch.setenv(name, f"valeur-secrete-de-{name}")
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "7")  # libpq's own: kept
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    settings.DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "carnet",
            "USER": "carnet",
            "PASSWORD": "mot-de-passe-de-la-base",
            "HOST": "db.carnet.internal",
            "PORT": 5432,
            "OPTIONS": {
                "sslmode": "verify-full",
                "sslrootcert": "/etc/carnet/ca.pem",
                "sslcert": "/etc/carnet/client.pem",
                "sslkey": "/etc/carnet/client.key",
                "channel_binding": "require",
                "isolation_level": 1,  # Django's, not libpq's
            },
        }
    }
    args, env = backups._pg_args()
    assert {k: v for k, v in env.items() if k.startswith("PG")} == {
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": "/etc/carnet/ca.pem",
        "PGSSLCERT": "/etc/carnet/client.pem",
        "PGSSLKEY": "/etc/carnet/client.key",
        "PGCHANNELBINDING": "require",
        "PGCONNECT_TIMEOUT": "7",
        "PGPASSWORD": "mot-de-passe-de-la-base",
    }
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert not [value for value in env.values() if "valeur-secrete" in value]
    assert "mot-de-passe-de-la-base" not in args
    assert args[-2:] == ["--dbname", "carnet"]


@drill
@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_pg_dump_refuses_a_server_without_tls_when_django_requires_it(settings, tmp_path):
    """End to end: the same backup that passes with sslmode=disable is refused by pg_dump
    itself with sslmode=require, the server having no TLS. Over TCP: libpq ignores sslmode
    on a Unix socket."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL seulement")
    with connection.cursor() as cursor:
        cursor.execute("SHOW ssl")
        if cursor.fetchone()[0] == "on":
            pytest.skip("ce serveur accepte TLS")
    default = settings.DATABASES["default"]
    host = default.get("HOST") or "localhost"
    host = "localhost" if host.startswith("/") else host
    for sslmode in ("disable", "require"):
        options = {**default.get("OPTIONS", {}), "sslmode": sslmode}
        over_tcp = {**default, "HOST": host, "OPTIONS": options}
        settings.DATABASES = {**settings.DATABASES, "default": over_tcp}
        if sslmode == "disable":
            backups.backup(tmp_path / "sans-tls")
            continue
        with pytest.raises(BackupError, match="pg_dump a échoué.*SSL"):
            backups.backup(tmp_path / "avec-tls")
