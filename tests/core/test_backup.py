"""Backup and restore drill: a populated installation is saved with `carnet backup`, restored
elsewhere (another database, another blob folder) with `carnet restore` run as the operator
runs it, then checked there: every document's SHA-256, every audit chain, and a login."""

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from carnet.documents.models import Document
from carnet.enrollment.selectors import own_space
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import PASSWORD, activate
from tests.exports.conftest import add_document

pytestmark = pytest.mark.django_db(transaction=True)

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
def elsewhere(tmp_path):
    """The environment of another, empty installation: its own database and blob folder, the
    same keys (they come from the secret store, never from the backup)."""
    dropped = ("STORAGE_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")  # the real settings
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(CARNET_DEMO="1", CARNET_BLOB_DIR=str(tmp_path / "ailleurs-blobs"))
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'ailleurs.sqlite3'}"
        yield env
        return
    name = f"carnet_drill_{uuid.uuid4().hex[:8]}"
    subprocess.run(["createdb", name], check=True)
    env["DATABASE_URL"] = f"postgres:///{name}"
    yield env
    subprocess.run(["dropdb", "--if-exists", name], check=True)


def carnet(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([CARNET, *args], env=env, capture_output=True, text=True, timeout=300)


def test_a_backup_restored_elsewhere_has_every_document_every_chain_and_logs_in(
    populated, elsewhere, tmp_path
):
    folder = tmp_path / "sauvegarde"
    call_command("backup", str(folder))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["blobs"]) == Document.objects.count() == 3
    assert manifest["missing"] == []
    assert manifest["kek_ids"]  # which keys are needed, by id
    # The keys themselves are never in the backup.
    from django.conf import settings

    written = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    for secret in settings.CARNET_KEYS.values():
        assert secret.encode() not in written and base64.b64decode(secret) not in written

    restored = carnet(elsewhere, "restore", str(folder))
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


def test_an_unfinished_backup_is_not_restored(populated, elsewhere, tmp_path):
    folder = tmp_path / "sauvegarde"
    call_command("backup", str(folder))
    (folder / "manifest.json").unlink()  # as if the backup had been cut before its end
    restored = carnet(elsewhere, "restore", str(folder))
    assert restored.returncode != 0
    assert "incomplète" in restored.stderr


def test_a_backup_goes_only_into_a_new_folder(populated, tmp_path):
    folder = tmp_path / "occupé"
    folder.mkdir()
    (folder / "autre-chose.txt").write_text("déjà là")
    with pytest.raises(CommandError, match="n'est pas vide"):
        call_command("backup", str(folder))


def test_a_referenced_file_missing_from_the_store_fails_the_backup_and_is_listed(
    populated, tmp_path
):
    from carnet.core.stores import blob_store

    gone = Document.objects.select_related("blob").first().blob.key
    blob_store().delete(gone)  # as if a purge had removed it during the backup
    folder = tmp_path / "sauvegarde"
    with pytest.raises(CommandError, match="1 fichiers référencés étaient absents"):
        call_command("backup", str(folder))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["missing"] == [gone]
    assert len(manifest["blobs"]) == 2
