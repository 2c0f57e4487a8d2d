"""The chunked encryption of the export (exports.stream): any bytes and any chunk size come
back whole; any change, cut, addition or reordering of the sealed bytes is refused."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carnet.exports import stream

KEY = bytes(range(32))
NAME = "a" * 64


def seal(data: bytes, chunk_size: int, pieces: int = 3, name: str = NAME) -> bytes:
    # The plaintext arrives in pieces of any size, as the ZIP produces it.
    cut = max(1, len(data) // pieces)
    parts = [data[i : i + cut] for i in range(0, len(data), cut)] or [b""]
    sealed = stream.encrypt_chunks(
        KEY, iter(parts), name=name, chunk_size=chunk_size, prefix=os.urandom(stream.PREFIX)
    )
    return b"".join(sealed)


def unseal(sealed: bytes, piece: int = 1000, name: str = NAME) -> bytes:
    pieces = [sealed[i : i + piece] for i in range(0, len(sealed), piece)]
    return b"".join(stream.decrypt_chunks(KEY, iter(pieces), name=name))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=20_000),
    chunk_size=st.integers(min_value=1, max_value=4096),
    pieces=st.integers(min_value=1, max_value=7),
    read_piece=st.integers(min_value=1, max_value=5000),
)
def test_round_trip_of_any_bytes_and_chunk_size(data, chunk_size, pieces, read_piece):
    sealed = seal(data, chunk_size, pieces)
    assert len(sealed) == stream.sealed_size(len(data), chunk_size)
    assert len(data) < 32 or data[:32] not in sealed  # never the plaintext as is
    assert unseal(sealed, read_piece) == data


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(min_size=0, max_size=5_000),
    chunk_size=st.integers(min_value=1, max_value=1024),
    position=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_flipped_bit_is_refused(data, chunk_size, position, bit):
    sealed = bytearray(seal(data, chunk_size))
    sealed[position % len(sealed)] ^= 1 << bit
    with pytest.raises(stream.StreamCorrupted):
        unseal(bytes(sealed))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(min_size=0, max_size=5_000),
    chunk_size=st.integers(min_value=1, max_value=1024),
    keep=st.integers(min_value=0),
)
def test_any_truncation_is_refused(data, chunk_size, keep):
    sealed = seal(data, chunk_size)
    with pytest.raises(stream.StreamCorrupted):
        unseal(sealed[: keep % len(sealed)])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(min_size=0, max_size=3_000),
    chunk_size=st.integers(min_value=1, max_value=512),
    extra=st.binary(min_size=1, max_size=600),
)
def test_bytes_added_at_the_end_are_refused(data, chunk_size, extra):
    with pytest.raises(stream.StreamCorrupted):
        unseal(seal(data, chunk_size) + extra)


@given(data=st.binary(min_size=40, max_size=3_000), chunk_size=st.integers(1, 16))
def test_swapped_chunks_are_refused(data, chunk_size):
    sealed = seal(data, chunk_size)
    header, record = stream.HEADER.size, chunk_size + stream.TAG
    first, second = sealed[header : header + record], sealed[header + record : header + 2 * record]
    swapped = sealed[:header] + second + first + sealed[header + 2 * record :]
    with pytest.raises(stream.StreamCorrupted):
        unseal(swapped)


def test_a_chunk_dropped_at_a_boundary_is_refused():
    """Whole chunks removed from the end (not the final one): a cut that looks clean."""
    chunk_size = 100
    sealed = seal(os.urandom(1000), chunk_size)  # ten full chunks, the last one final
    record = chunk_size + stream.TAG
    assert len(sealed) == stream.HEADER.size + 10 * record
    without_final = sealed[:-record]
    with pytest.raises(stream.StreamCorrupted):
        unseal(without_final)


def test_another_name_or_key_is_refused():
    sealed = seal(b"contenu du ZIP" * 100, 64)
    with pytest.raises(stream.StreamCorrupted):
        unseal(sealed, name="b" * 64)
    with pytest.raises(stream.StreamCorrupted):
        b"".join(stream.decrypt_chunks(bytes(32), iter([sealed]), name=NAME))


def test_a_hostile_header_is_refused_before_any_allocation():
    header = stream.HEADER.pack(stream.MAGIC, 2**31, b"\x00" * stream.PREFIX)
    with pytest.raises(stream.StreamCorrupted):
        unseal(header + b"\x00" * 64)
    with pytest.raises(stream.StreamCorrupted):
        unseal(b"PK\x03\x04" + b"\x00" * 100)


def test_good_chunks_come_out_before_the_damaged_one():
    """Decryption streams: what comes before a damaged chunk is given, then it stops."""
    chunk_size = 10
    data = bytes(range(100))
    sealed = bytearray(seal(data, chunk_size))
    sealed[stream.HEADER.size + 3 * (chunk_size + stream.TAG)] ^= 1
    out = stream.decrypt_chunks(KEY, iter([bytes(sealed)]), name=NAME)
    assert b"".join(next(out) for _ in range(3)) == data[:30]
    with pytest.raises(stream.StreamCorrupted):
        next(out)
