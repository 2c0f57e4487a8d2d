"""Keyed hashes for secrets and AES-256-GCM envelope encryption (DESIGN invariants 3 and 4)."""

import base64
import hashlib
import hmac
import os
import secrets
import string

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

CODE_ALPHABET = string.digits + string.ascii_letters


def keyed_hash(secret: str, *, purpose: str) -> str:
    """HMAC-SHA-256 of a random, high-entropy secret, separated by purpose."""
    key = settings.CARNET_HMAC_KEY.encode()
    return hmac.new(key, f"{purpose}:{secret}".encode(), hashlib.sha256).hexdigest()


def hashes_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def random_code(length: int, alphabet: str = CODE_ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_digits(length: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(length))


def _keks() -> dict[str, bytes]:
    return {kid: base64.b64decode(key) for kid, key in settings.CARNET_KEYS.items()}


def current_kek_id() -> str:
    return list(settings.CARNET_KEYS)[-1]


def wrap_key(data_key: bytes, *, kek_id: str | None = None) -> tuple[str, bytes]:
    """Encrypt a data key under a key-encryption key; returns (kek id, nonce + ciphertext)."""
    kek_id = kek_id or current_kek_id()
    nonce = os.urandom(12)
    return kek_id, nonce + AESGCM(_keks()[kek_id]).encrypt(nonce, data_key, b"carnet-dek")


def unwrap_key(kek_id: str, wrapped: bytes) -> bytes:
    return AESGCM(_keks()[kek_id]).decrypt(wrapped[:12], wrapped[12:], b"carnet-dek")


def encrypt(data_key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def decrypt(data_key: bytes, blob: bytes, *, aad: bytes) -> bytes:
    sealed = memoryview(blob)  # slices without copying a 5 MB document
    return AESGCM(data_key).decrypt(sealed[:12], sealed[12:], aad)
