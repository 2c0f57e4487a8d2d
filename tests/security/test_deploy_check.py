"""`carnet check --deploy` with the production example of docs/: Django's deployment checks
and ours report nothing; each of ours speaks when its rule is broken."""

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "production.env.example"
CARNET = str(Path(sys.executable).with_name("carnet"))


def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def production_env(tmp_path, **overrides) -> dict:
    """The example's variables, with generated values where it says À_REMPLACER."""
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    values.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        CARNET_HMAC_KEY=secrets.token_hex(32),
        CARNET_KEYS=json.dumps({"k2026": base64.b64encode(secrets.token_bytes(32)).decode()}),
        OIDC_RSA_PRIVATE_KEY=rsa_pem(),
    )
    values.update(overrides)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {**keep, "CARNET_VAR_DIR": str(tmp_path), **values}


def check(env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CARNET, "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_production_example_passes_every_deployment_check(tmp_path):
    result = check(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"SECRET_KEY": ""}, "carnet.W001"),  # generated into var/: one node's disk
        ({"CARNET_KEYS": '{"k1": "trop-courte"}'}, "carnet.E003"),
        ({"STORAGE_URL": ""}, "carnet.W002"),
        ({"CARNET_DEMO": "1"}, "carnet.E001"),
        ({"CARNET_SECURE_COOKIES": "0"}, "security.W012"),  # Django's: cookies not Secure
        ({"REDIS_URL": "redis://cache.carnet.internal:6379/0"}, "carnet.W003"),  # no TLS
        ({"REDIS_URL": "rediss://cache.carnet.internal:6380/0"}, "carnet.W003"),  # no password
    ],
)
def test_each_broken_rule_is_reported(tmp_path, overrides, expected):
    result = check(production_env(tmp_path, **overrides))
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr


@pytest.mark.django_db
def test_plain_http_goes_to_https_but_the_probes_stay(client, settings):
    settings.SECURE_SSL_REDIRECT = True  # what production gets (secure cookies)
    response = client.get("/connexion/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/connexion/"
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
