"""What the benchmarks share: a throwaway Carnet (temporary directory, fresh SQLite database),
the synthetic space some of them measure, their timing and their output (progress on stderr,
one JSON line on stdout).

Imported as `_common`: `python bench/<name>.py` puts bench/ first on sys.path. Nothing here
imports Django before `throwaway_carnet` has set the environment up.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

# Settings that would point a benchmark elsewhere than its temporary directory (a server's
# database, real messages, shared storage, a proxy in front): dropped, so the embedded
# defaults apply: SQLite, messages in the outbox, blobs and letters under the var directory.
_UNSET = (
    "DATABASE_URL",
    "EMAIL_URL",
    "SMS_URL",
    "REDIS_URL",
    "STORAGE_URL",
    "CARNET_BLOB_DIR",
    "CARNET_LETTERS_DIR",
    "CARNET_PROXY_COUNT",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def result_print(result: dict) -> None:
    """The benchmark's one JSON line on stdout."""
    print(json.dumps(result), flush=True)


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """The script's parser: its docstring's first paragraph, and --keep."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser


@contextmanager
def throwaway_carnet(
    name: str, *, keep: bool, cache_table: bool = False, **environ: str
) -> Iterator[Path]:
    """Carnet set up in a new temporary directory: Django configured there (plus `environ`),
    the database migrated (and the cache table created, for the web views). Yields the
    directory, removed at the end unless `keep`."""
    tmp = Path(tempfile.mkdtemp(prefix=f"carnet-bench-{name}-"))
    try:
        for variable in _UNSET:
            os.environ.pop(variable, None)
        os.environ.update(
            CARNET_VAR_DIR=str(tmp / "var"), DJANGO_SETTINGS_MODULE="carnet.settings", **environ
        )
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if cache_table:
            call_command("createcachetable", verbosity=0)
        yield tmp
    finally:
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def timed(function, runs: int, warmup: int = 0) -> tuple[float, object]:
    """Median seconds of `runs` calls after `warmup` untimed ones, and the last call's result."""
    for _ in range(warmup):
        function()
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def synthetic_space(identifier: str, password: str) -> tuple:
    """(user, space) of one synthetic person whose space is activated through the enrollment
    services, as a person does it (code, identification, credentials)."""
    from carnet.core.validators import nir_key
    from carnet.enrollment import services
    from carnet.enrollment.selectors import space_for_user
    from carnet.registry.models import InsuredPerson

    first13 = "2800575112001"
    person = InsuredPerson.objects.create(
        nir=f"{first13}{nir_key(first13):02d}",
        last_name="DE LA FONTAINE",
        first_name="Anne-Sophie",
        birth_date=date(1980, 5, 17),
        sex="F",
        vitale_serial="12345000001",
        vitale_photo=True,
        email=f"{identifier}@exemple.fr",
        mobile="+33610000001",
    )
    [(person, code, _)] = services.codes_issue([person])
    identified = services.identification_check(
        code=code,
        nir=person.nir,
        birth_date=person.birth_date,
        vitale_photo=True,
        vitale_serial=person.vitale_serial,
        client="127.0.0.1",
    )
    user = services.space_activate(
        identified=identified,
        credentials=services.Credentials(
            identifier=identifier,
            password=password,
            email=person.email,
            email_verified=True,
            mobile=person.mobile,
            mobile_verified=True,
        ),
        client="127.0.0.1",
    )
    return user, space_for_user(user)
