"""The server's cost of a login with a passkey alone (options, then the signed answer checked
by py_webauthn, the session opened), through the real views in this process, beside a bare
view answered by the same stack (`/healthz`) and one Argon2 password check (the first step of
the code login). Prints one JSON line: medians in milliseconds and the ratios.

    .venv/bin/python bench/passkeys.py [--runs 200]
"""

import json
import statistics
import sys
import time
from pathlib import Path

from _common import argument_parser, log, result_print, throwaway_carnet

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    carnet = throwaway_carnet(
        "passkeys",
        keep=args.keep,
        cache_table=True,
        CARNET_DEMO="1",
        CARNET_LOG_LEVEL="WARNING",
        CARNET_WEBAUTHN_RP_ID="localhost",
        CARNET_WEBAUTHN_ORIGINS="http://localhost:8000",
    )
    with carnet:
        sys.path.insert(0, str(ROOT))  # the tests' software authenticator
        from django.contrib.auth.hashers import check_password, make_password
        from django.test import Client

        from carnet.accounts.models import User
        from tests.accounts.test_passkeys import SoftwareAuthenticator

        user = User.objects.create_user("banc.cle.acces", None, email="banc@exemple.fr")
        authenticator = SoftwareAuthenticator()
        authenticator.passkey_for(user)

        def passkey_login() -> float:
            client = Client()
            started = time.perf_counter()
            options = json.loads(client.post("/connexion/cle-d-acces/options/").content)
            answer = authenticator.get(options, user_handle=user.public_id.bytes)
            signed = time.perf_counter()  # the authenticator's own work is not the server's
            response = client.post("/connexion/cle-d-acces/", {"credential": answer})
            done = time.perf_counter()
            assert response.status_code == 302 and response["Location"] in ("/", "/bienvenue/")
            return (signed - started) - _sign_cost + (done - signed)

        def bare() -> float:
            client = Client()
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            return time.perf_counter() - started

        # What the software authenticator spends signing, taken off the first leg.
        probe = {"challenge": "AAAA"}
        sign_times = []
        for _ in range(50):
            started = time.perf_counter()
            authenticator.get(probe, user_handle=user.public_id.bytes)
            sign_times.append(time.perf_counter() - started)
        _sign_cost = statistics.median(sign_times)

        log(f"{args.runs} passkey logins and as many bare requests…")
        for _ in range(10):  # warm up
            passkey_login()
            bare()
        passkey = statistics.median(passkey_login() for _ in range(args.runs))
        baseline = statistics.median(bare() for _ in range(args.runs))
        hashed = make_password("banc d'essai des clés d'accès 2026")
        argon2 = statistics.median(
            _timed(lambda: check_password("banc d'essai des clés d'accès 2026", hashed))
            for _ in range(10)
        )
        result_print(
            {
                "benchmark": "passkeys",
                "runs": args.runs,
                "passkey_login_ms": round(passkey * 1000, 2),
                "bare_view_ms": round(baseline * 1000, 2),
                "argon2_check_ms": round(argon2 * 1000, 2),
                "passkey_over_bare": round(passkey / baseline, 1),
                "passkey_over_argon2": round(passkey / argon2, 2),
                "passkey_logins_per_second_per_core": round(1 / passkey, 1),
            }
        )


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
