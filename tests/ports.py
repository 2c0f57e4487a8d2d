"""A loopback port nothing listens on (just released): for a server a test starts, or for a
service a test wants unreachable (every connection refused)."""

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
