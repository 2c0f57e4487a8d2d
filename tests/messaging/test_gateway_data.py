"""The gateway's DATA reader (`gateway.data_read`): read in blocks, it gives what aiosmtpd's
line-by-line reading gives, for any bytes, however they arrive."""

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from carnet.messaging.gateway import data_read

# What the client's data is made of: dots, lone CR and LF, CRLF, text, long runs.
PIECES = [b".", b"..", b"a", b"Fin.", b"\r", b"\n", b"\r\n", b"\r\n.", b"x" * 90, b"=" * 300]
TAIL = b"\r\n.\r\nQUIT\r\n"  # an end of data is always there, then a pipelined command


def reference(stream: bytes, *, size_limit: int, line_limit: int):
    """RFC 5321 as aiosmtpd reads it, a line at a time: (state, content, what is left)."""
    lines, position = [], 0
    while True:
        end = stream.index(b"\r\n", position) + 2
        line, position = stream[position:end], end
        if line == b".\r\n":
            break
        lines.append(line)
    rest = stream[position:]
    if sum(map(len, lines)) > size_limit:  # the limit passed first gives the refusal
        offset = 0
        for line in lines:
            if len(line) > line_limit and offset + line_limit < size_limit:
                return "too_long", b"", rest
            offset += len(line)
        return "too_much", b"", rest
    if any(len(line) > line_limit for line in lines):
        return "too_long", b"", rest
    return "ok", b"".join(line[1:] if line.startswith(b".") else line for line in lines), rest


async def read_in_blocks(stream: bytes, cuts: list[int], *, size_limit, line_limit, limit):
    reader = asyncio.StreamReader(limit=limit)

    async def feed():
        position = 0
        for cut in [*sorted(set(cuts)), len(stream)]:
            reader.feed_data(stream[position:cut])
            position = max(position, cut)
            await asyncio.sleep(0)
        reader.feed_eof()

    feeding = asyncio.ensure_future(feed())
    state, content = await data_read(reader, size_limit=size_limit, line_limit=line_limit)
    await feeding
    return state, content, await reader.read()


@given(
    body=st.lists(st.sampled_from(PIECES), max_size=60).map(b"".join),
    starts_at_end=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
    size_limit=st.sampled_from([50, 500, 10_000]),
    line_limit=st.sampled_from([40, 1001]),
    limit=st.sampled_from([16, 1001, 2**16]),
)
def test_data_read_in_blocks_is_the_line_by_line_reading(
    body, starts_at_end, cuts, size_limit, line_limit, limit
):
    stream = b".\r\nQUIT\r\n" if starts_at_end else body + TAIL
    expected = reference(stream, size_limit=size_limit, line_limit=line_limit)
    got = asyncio.run(
        read_in_blocks(stream, cuts, size_limit=size_limit, line_limit=line_limit, limit=limit)
    )
    assert got == expected


def test_dot_stuffed_lines_and_lines_ending_with_a_dot():
    stream = b"Subject: x\r\n\r\n..\r\n.signature\r\nFin.\r\n...\r\n.\r\nNOOP\r\n"
    got = asyncio.run(read_in_blocks(stream, [5, 17], size_limit=1000, line_limit=1001, limit=16))
    assert got == ("ok", b"Subject: x\r\n\r\n.\r\nsignature\r\nFin.\r\n..\r\n", b"NOOP\r\n")


def test_too_much_data_is_read_to_its_end_and_not_kept():
    stream = b"a" * 500 + b"\r\n" + b"b" * 500 + b"\r\n.\r\nRSET\r\n"
    got = asyncio.run(read_in_blocks(stream, [], size_limit=600, line_limit=1001, limit=64))
    assert got == ("too_much", b"", b"RSET\r\n")


def test_a_line_is_too_long_from_one_byte_past_the_limit_crlf_included():
    for content_length, state in ((999, "ok"), (1000, "too_long")):
        stream = b"a" * content_length + TAIL
        got = asyncio.run(read_in_blocks(stream, [], size_limit=5000, line_limit=1001, limit=1001))
        assert got[0] == state
        assert got == reference(stream, size_limit=5000, line_limit=1001)


def test_data_past_both_limits_gets_the_refusal_of_the_one_passed_first():
    long_line = b"x" * 1200 + b"\r\n"
    much = b"y" * 70 + b"\r\n"
    first_long = long_line + much * 100 + TAIL
    got = asyncio.run(read_in_blocks(first_long, [], size_limit=3000, line_limit=1001, limit=1001))
    assert got == ("too_long", b"", b"QUIT\r\n")
    first_much = much * 50 + long_line + TAIL
    got = asyncio.run(read_in_blocks(first_much, [], size_limit=3000, line_limit=1001, limit=1001))
    assert got == ("too_much", b"", b"QUIT\r\n")
