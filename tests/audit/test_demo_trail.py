"""`carnet audit verify` on the demo data: intact after `carnet seed_demo`, and a tampered copy
fails and names the event (the issue's acceptance). tests/audit/test_chain.py covers every kind of
tampering on a small chain; tests/test_cli.py the exit code on a tampered trail in place."""

import os
import shutil
import sqlite3
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from carnet.accounts.models import User
from carnet.audit.models import Event
from carnet.enrollment.selectors import space_for_user

from .test_chain import _tampering, _update

CARNET = Path(sys.executable).with_name("carnet")
TRANSITION = "espace_transition"
FORGED = '{"de": "pending", "vers": "opposed", "motif": "opposition"}'


def _activation_of(identifier: str) -> Event:
    space = space_for_user(User.objects.get(identifier=identifier))
    return Event.objects.get(chain=str(space.public_id), action=TRANSITION)


@pytest.mark.django_db
def test_verify_passes_on_the_demo_data_and_names_the_tampered_event():
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "trace d'audit intègre" in out.getvalue()
    assert f"({Event.objects.count()} événements" in out.getvalue()

    # The demo patient's activation rewritten into an opposition, past the append-only trigger.
    target = _activation_of("demo.patient")
    with _tampering():
        _update(target.pk, "detail", FORGED)
    err = StringIO()
    with pytest.raises(CommandError, match="anomalie") as failure:
        call_command("audit", "verify", stderr=err)
    named = f"Chaîne {target.chain} : l'événement n° {target.seq} a été modifié"
    assert named in err.getvalue()
    assert f"la première : {named}" in str(failure.value)

    # The other chains are still intact.
    other = _activation_of("demo.parent")
    call_command("audit", "verify", "--space", other.chain, stdout=StringIO())


def _carnet(var: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CARNET_"))}
    env.update(DJANGO_SETTINGS_MODULE="carnet.settings", CARNET_VAR_DIR=str(var), CARNET_DEMO="1")
    return subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [str(CARNET), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_the_real_command_on_the_demo_database_and_on_a_tampered_copy(tmp_path):
    """As `make run` leaves it (CARNET_DEMO=1, SQLite under var/), then a copy of var/ edited
    with sqlite3 by someone who drops the trigger first."""
    demo = tmp_path / "demo"
    for args in (("migrate", "-v", "0"), ("seed_demo",)):
        result = _carnet(demo, *args)
        assert result.returncode == 0, result.stderr
    copy = tmp_path / "copie"
    shutil.copytree(demo, copy)
    with sqlite3.connect(copy / "carnet.sqlite3") as db:
        chain, seq = db.execute(
            "SELECT chain, seq FROM audit_event WHERE action = ? ORDER BY id LIMIT 1",
            [TRANSITION],
        ).fetchone()
        with pytest.raises(sqlite3.IntegrityError, match="ajout seul"):
            db.execute(
                "UPDATE audit_event SET detail = ? WHERE chain = ? AND seq = ?",
                [FORGED, chain, seq],
            )
        db.execute("DROP TRIGGER audit_event_no_update")
        db.execute(
            "UPDATE audit_event SET detail = ? WHERE chain = ? AND seq = ?", [FORGED, chain, seq]
        )

    clean = _carnet(demo, "audit", "verify")
    assert clean.returncode == 0, clean.stderr
    assert "trace d'audit intègre" in clean.stdout

    tampered = _carnet(copy, "audit", "verify")
    assert tampered.returncode != 0
    assert f"Chaîne {chain} : l'événement n° {seq} a été modifié" in tampered.stderr
    assert "Traceback" not in tampered.stderr
