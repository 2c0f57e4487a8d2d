"""Chunked authenticated encryption of a stream (the export's ZIP), never held whole.

The file is a header, then chunks of AES-256-GCM ciphertext, each followed by its tag:

    header  = b"CARNETX1" | chunk size (uint32, big endian) | nonce prefix (7 random bytes)
    chunk i = AES-GCM(key, nonce = prefix | i (uint32, big endian) | final (1 byte: 0 or 1),
                      data = plaintext[i * size : (i + 1) * size], aad = header | name)

Every chunk but the last holds exactly `chunk size` bytes of plaintext; the last one holds
0 to `chunk size` bytes and is the only one sealed with final = 1 (the STREAM construction of
Hoang, Reyhanitabar, Rogaway and Vizár). So a chunk moved elsewhere (its index), a file cut at
a chunk boundary (no final chunk) or after it (a final chunk read as not final), bytes added,
a changed header or a file stored under another name (the associated data) all fail the tag:
`StreamCorrupted`, and not one more byte of plaintext is given out. The key is a fresh data key
of `core.keys` (wrapped by a key-encryption key of CARNET_KEYS, rotated with the others),
used for this one file; the random prefix keeps nonces apart should it ever be reused.
"""

import struct
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CARNETX1"
HEADER = struct.Struct(">8sI7s")
TAG = 16
PREFIX = 7
MAX_CHUNK = 64 * 1024 * 1024  # a header asking for more is refused before any allocation
MAX_CHUNKS = 2**32  # the index has 4 bytes in the nonce


class StreamCorrupted(Exception):
    """The sealed stream is damaged, truncated, reordered or not ours: nothing more is read."""


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    if index >= MAX_CHUNKS:
        raise StreamCorrupted("trop de morceaux")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


def _aad(header: bytes, name: str) -> bytes:
    return header + name.encode()


def sealed_size(plain_size: int, chunk_size: int) -> int:
    """The size of the sealed file of `plain_size` bytes of plaintext."""
    chunks = max(1, -(-plain_size // chunk_size))  # the final chunk exists even when empty
    return HEADER.size + plain_size + chunks * TAG


def encrypt_chunks(
    key: bytes, plaintext: Iterable[bytes], *, name: str, chunk_size: int, prefix: bytes
) -> Iterator[bytes]:
    """Seal `plaintext` (pieces of any size) as it comes: yields the header, then one sealed
    chunk at a time; one chunk of plaintext is held, besides the piece being cut."""
    if not 1 <= chunk_size <= MAX_CHUNK or len(prefix) != PREFIX or len(key) != 32:
        raise ValueError("paramètres de chiffrement invalides")
    header = HEADER.pack(MAGIC, chunk_size, prefix)
    aad = _aad(header, name)
    aead = AESGCM(key)
    yield header
    pending = bytearray()  # the chunk being filled: each byte is copied once, into it
    index = 0
    for piece in plaintext:
        view = memoryview(piece)
        while view:
            if len(pending) == chunk_size:
                # Full, and more comes: not the last one (which must be known as such).
                yield aead.encrypt(_nonce(prefix, index, False), pending, aad)
                pending = bytearray()
                index += 1
            room = chunk_size - len(pending)
            pending += view[:room]
            view = view[room:]
    yield aead.encrypt(_nonce(prefix, index, True), pending, aad)


class _Reader:
    """Exact-size reads over an iterable of pieces of any size."""

    def __init__(self, pieces: Iterable[bytes]):
        self._pieces = iter(pieces)
        self._buffer = bytearray()

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


def decrypt_chunks(key: bytes, sealed: Iterable[bytes], *, name: str) -> Iterator[bytes]:
    """The plaintext of a sealed stream, one verified chunk at a time; raises StreamCorrupted
    at the first chunk that fails (a damaged file gives out its good chunks before it only)."""
    reader = _Reader(sealed)
    header = reader.read(HEADER.size)
    if len(header) != HEADER.size:
        raise StreamCorrupted("en-tête incomplet")
    magic, chunk_size, prefix = HEADER.unpack(header)
    if magic != MAGIC or not 1 <= chunk_size <= MAX_CHUNK:
        raise StreamCorrupted("en-tête invalide")
    aad = _aad(header, name)
    aead = AESGCM(key)
    record = chunk_size + TAG
    index = 0
    current = reader.read(record)
    while True:
        following = reader.read(record)  # one chunk ahead: is the current one the last?
        final = not following
        if len(current) < TAG or (not final and len(current) != record):
            raise StreamCorrupted("morceau incomplet")
        try:
            plain = aead.decrypt(_nonce(prefix, index, final), current, aad)
        except InvalidTag as exc:
            raise StreamCorrupted(f"morceau {index}") from exc
        yield plain
        if final:
            return
        current = following
        index += 1
