"""The `carnet` command: idempotent sweeps, batch issuance, demo data, help and failures.

In-process `call_command` where it shows the behaviour; a real `.venv/bin/carnet` subprocess,
on a temporary SQLite database, for exit codes and what an operator reads on the terminal."""

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.core import blobs, clock
from carnet.enrollment import services
from carnet.enrollment.models import ProvisionalCode, Space
from carnet.notifications.models import OutboxMessage
from carnet.registry.models import InsuredPerson
from tests.enrollment.helpers import activate, space_of
from tests.factories import InsuredPersonFactory

CARNET = Path(sys.executable).with_name("carnet")


def _call(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (InsuredPerson, Space, ProvisionalCode, User, Event, OutboxMessage)
    }


# --- carnet tick --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_tick_twice_is_idempotent(issue_code, settings):
    pending = issue_code()
    closing = issue_code()
    user = activate(closing)
    space = space_of(closing.person)
    blob = blobs.blob_put(data_key=services.space_data_key(space), plaintext=b"x")
    services.space_close(space=space, actor=user.actor, confirmed=True)
    services.space_request_deletion(space=space, actor=user.actor)
    orphan = Path(settings.BLOB_DIR) / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"crash leftover")

    with clock.travel(timedelta(weeks=6, seconds=1)):
        first = _call("tick")
        after_first = _counts()
        second = _call("tick")
    assert "creation_automatique: 1" in first
    assert "purge: 1" in first
    assert "fichiers_orphelins: 1" in first
    # Every sweep, in order, found nothing more to do.
    from carnet.tick import SWEEPS

    assert second.split() == [part for name, _ in SWEEPS for part in (f"{name}:", "0")]
    assert _counts() == after_first
    assert space_of(pending.person).state == Space.State.ACTIVE
    assert space_of(closing.person).state == Space.State.PURGED
    assert not orphan.exists() and not blobs.blob_exists_on_disk(blob.key)


# --- carnet send_codes --------------------------------------------------------------------------


@pytest.mark.django_db
def test_send_codes_with_a_limit(settings):
    InsuredPersonFactory.create_batch(3)
    InsuredPersonFactory.create_batch(2, email="", mobile="")
    out = _call("send_codes", "--limit", "2")
    assert "2 codes envoyés par e-mail, 0 par courrier" in out
    assert Space.objects.count() == 2

    out = _call("send_codes")
    assert "1 codes envoyés par e-mail, 2 par courrier" in out
    [letters_line] = [line for line in out.splitlines() if line.startswith("lot de courriers")]
    assert Path(letters_line.split(" : ", 1)[1]).read_bytes().startswith(b"%PDF")
    assert Space.objects.count() == 5

    assert "0 codes envoyés par e-mail, 0 par courrier" in _call("send_codes")
    assert ProvisionalCode.objects.count() == 5  # nobody got a second code
    assert OutboxMessage.objects.filter(kind="code_provisoire").count() == 3


# --- carnet seed_demo --------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_twice_keeps_what_is_there():
    first = _call("seed_demo")
    assert "Données de démonstration créées" in first
    counts = _counts()
    assert counts["User"] == 4
    states = dict(Space.objects.values_list("person__last_name", "state"))
    assert states["DÉMO-ACTIVE"] == Space.State.ACTIVE
    assert states["DÉMO-OPPOSITION"] == Space.State.OPPOSED
    assert states["DÉMO-ATTENTE"] == Space.State.PENDING

    second = _call("seed_demo")
    assert "déjà présentes : rien n'est modifié" in second
    assert _counts() == counts
    assert "demo.patient" in second


# --- The real command, in a subprocess ---------------------------------------------------------


def _carnet(tmp_path, *args, **extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CARNET_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="carnet.settings", CARNET_VAR_DIR=str(tmp_path / "var"), **extra_env
    )
    return subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [str(CARNET), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_help_lists_the_commands(tmp_path):
    result = _carnet(tmp_path, "--help")
    assert result.returncode == 0
    for command in (
        "audit",
        "tick",
        "serve",
        "worker",
        "seed_demo",
        "send_codes",
        "outbox",
        "import_registry",
        "migrate",
    ):
        assert f"    {command}\n" in result.stdout, command


def test_missing_import_file_fails_with_one_line(tmp_path):
    result = _carnet(tmp_path, "import_registry", str(tmp_path / "absent.csv"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "fichier introuvable" in lines[0]


def test_failure_on_an_unmigrated_database_is_one_line(tmp_path):
    result = _carnet(tmp_path, "tick")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_audit_verify_exits_non_zero_on_a_tampered_trail(tmp_path):
    assert _carnet(tmp_path, "migrate", "-v", "0").returncode == 0
    assert _carnet(tmp_path, "seed_demo", CARNET_DEMO="1").returncode == 0
    clean = _carnet(tmp_path, "audit", "verify")
    assert clean.returncode == 0 and "trace d'audit intègre" in clean.stdout

    with sqlite3.connect(tmp_path / "var" / "carnet.sqlite3") as db:
        with pytest.raises(sqlite3.IntegrityError, match="ajout seul"):
            db.execute("UPDATE audit_event SET actor = 'usager:faux' WHERE seq = 1")
        # Whoever can write the file can drop the trigger first: verify still catches the edit.
        db.execute("DROP TRIGGER audit_event_no_update")
        db.execute("UPDATE audit_event SET actor = 'usager:faux' WHERE seq = 1")
    tampered = _carnet(tmp_path, "audit", "verify")
    assert tampered.returncode != 0
    assert "a été modifié" in tampered.stderr
    assert tampered.stderr.strip().splitlines()[-1].startswith("CommandError:")
