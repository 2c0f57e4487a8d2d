"""The file checker: a small process that forks one bounded child per file to check.

`files.file_check_isolated` used to fork the web worker (or the SMTP gateway) itself for each
upload: forking a process of 150+ Mio, with threads, and the child's copy-on-write faults and
teardown, cost 15 to 30 ms of CPU per file, more than the check. The checker is started once
per process (`python -m carnet.documents.checker`), imports only what `files.file_check` needs
(filetype, Pillow, pypdf, no database, Django's settings left empty), and forks *itself* for
each check: a child of about 40 Mio, same isolation as before — its own address space, bounded
in CPU (RLIMIT_CPU), memory (RLIMIT_AS) and wall time (a real-time timer that ends it), no core
file, one file only, and gone after it has answered.

The protocol, over a Unix socket pair that only the two processes hold:
- the client sends one byte and, with it (SCM_RIGHTS), one end of a new socket pair for this
  check; the checker forks, and its child serves that socket: it reads a JSON header line
  (the job, bounds, the limits the check reads from settings) and the content, checks it,
  writes its report and leaves with os._exit. Jobs (`JOBS`): a file — one line of JSON
  ({"media_type", "extension", "suggested_title"} or {"refused": ...}); a professional's
  mail (`messaging.mime`) — read, and each attachment checked;
- a child's first byte is "+": without it, no child ran (the checker could not fork), which is
  a server error (`CheckerUnavailable`), never a verdict on the file;
- the checker ignores SIGCHLD, so the kernel reaps its children: none is ever left a zombie;
- it is started with only PATH, the locale, TZ and PYTHONPATH from the environment: no key,
  password or database address within reach of a parser exploit;
- it leaves when the client's end of the control socket closes (its owner has ended).

A child that is killed by its bounds or crashes writes nothing, and the client reads end of
file: `file_check_isolated` refuses the file as too complex, as before.
"""

import gc
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time

# What `files.file_check` reads from settings.CARNET: sent with each check, so that the child
# applies the caller's settings (tests override them), not the checker's.
CHECK_SETTINGS = ("DOCUMENT_MAX_BYTES", "DOCUMENT_TITLE_MAX_LENGTH", "IMAGE_MAX_PIXELS")
HEADER_MAX = 64 * 1024
STARTED = b"+"  # a child's first byte: it runs (else the checker could not fork)
CONTROL_TIMEOUT = 5.0  # seconds to hand a check over to the checker
KEPT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


class CheckerUnavailable(OSError):
    """The checker process cannot be started or reached: a server error, not a verdict."""


# --- The client side (in the web worker, the gateway…) -------------------------------------


class _Client:
    """This process's checker: started at the first check, again after a fork (gunicorn) or if
    it has died."""

    def __init__(self):
        self._lock = threading.Lock()
        self._owner_pid = None
        self._process = None
        self._control = None

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # Nothing of the environment but what Python needs: the checker's children read what
        # strangers sent, and keys, passwords and database addresses have no business there.
        env = {key: os.environ[key] for key in KEPT_ENVIRONMENT if key in os.environ}
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            process = subprocess.Popen(  # noqa: S603 (our own module, no shell)
                [sys.executable, "-m", "carnet.documents.checker", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except OSError as exc:
            ours.close()
            raise CheckerUnavailable("the file checker could not be started") from exc
        finally:
            theirs.close()
        ours.settimeout(CONTROL_TIMEOUT)  # a checker that stopped reading: never a hang
        self._process, self._control, self._owner_pid = process, ours, os.getpid()

    def _stop(self) -> None:
        if self._control is not None:
            self._control.close()  # the checker leaves on end of file
        if self._process is not None and self._owner_pid == os.getpid():
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = self._control = self._owner_pid = None

    def _hand_over(self, theirs: socket.socket) -> None:
        """Give the checker one end of this check's socket pair (it forks a child for it)."""
        with self._lock:
            for attempt in (1, 2):
                if self._owner_pid != os.getpid():  # not started, or inherited across a fork
                    self._process = self._control = None
                    self._start()
                try:
                    socket.send_fds(self._control, [b"c"], [theirs.fileno()])
                    return
                except (BrokenPipeError, ConnectionResetError):  # it has died: another, once
                    self._stop()
                    if attempt == 2:
                        raise CheckerUnavailable("the file checker cannot be reached") from None
                except OSError as exc:  # stuck, or out of resources: a server error
                    raise CheckerUnavailable("the file checker does not answer") from exc

    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def check(self, header: dict, data: bytes, timeout: float) -> bytes | None:
        """The child's report (possibly empty: it was killed or crashed), or None if it has
        not answered within `timeout` seconds (its own timer ends it meanwhile).
        CheckerUnavailable if no child was started (the checker could not fork): a server
        error, not a verdict."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        try:
            with theirs:
                self._hand_over(theirs)
            ours.settimeout(timeout)
            try:
                ours.sendall(json.dumps(header).encode() + b"\n")
                ours.sendall(data)
                ours.shutdown(socket.SHUT_WR)
            except TimeoutError:
                return None
            except OSError:  # the child ended before reading everything: what it wrote says
                pass
            report = _read_until_end(ours, deadline)
        finally:
            ours.close()
        if report is None:
            return None
        if not report.startswith(STARTED):
            raise CheckerUnavailable("the file checker started no child")
        return report[len(STARTED) :]


def _read_until_end(sock: socket.socket, deadline: float) -> bytes | None:
    chunks = []
    sock.setblocking(False)
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if ready:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return b"".join(chunks)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    return None


_client = _Client()


def check(header: dict, data: bytes, timeout: float) -> bytes | None:
    return _client.check(header, data, timeout)


def checker_pid() -> int | None:
    """The pid of this process's checker (None before the first check)."""
    return _client.pid()


def checker_children() -> list[int]:
    """The pids of the checker's children still running (Linux's /proc)."""
    pid = checker_pid()
    if pid is None:
        return []
    children = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listed:
                children += [int(child) for child in listed.read().split()]
    except FileNotFoundError:  # the checker has ended
        return []
    return children


def checker_stop() -> None:
    with _client._lock:
        _client._stop()


# --- The checker process --------------------------------------------------------------------


def _serve(control_fd: int) -> None:
    from django.conf import settings

    # Filled in each child from the request's header; the defaults serve the warm-up.
    settings.configure(CARNET={key: 10_000_000 for key in CHECK_SETTINGS})
    from carnet.documents import files
    from carnet.messaging import mime

    files.preload()
    mime.preload()
    # What is loaded now is never collected: a child's collections leave it alone, sparing
    # copy-on-write faults on every page that holds an object.
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is the owner's
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 16, 4)
        except InterruptedError:
            continue
        if not message:  # the owner has ended
            return
        for fd in fds:
            try:
                pid = os.fork()
            except OSError:  # no process to spare: the client reads end of file
                os.close(fd)
                continue
            if pid == 0:
                control.close()
                _child(fd, settings)  # never returns
            os.close(fd)


def _child(fd: int, settings) -> None:
    status = 1
    try:
        _lower_limit(resource.RLIMIT_CORE, 0)  # no core file holding a patient's document
        sock = socket.socket(fileno=fd)
        sock.sendall(STARTED)  # a child runs: from now on, no report means a refusal
        reader = sock.makefile("rb")
        header = json.loads(reader.readline(HEADER_MAX))
        # The wall-time bound first: whatever happens next (a slow sender included), the child
        # ends by SIGALRM's default action.
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, max(float(header["timeout"]), 0.01))
        data = reader.read()
        _bound(header["cpu"], header["memory"])
        settings.CARNET = header["settings"]
        job = JOBS[header.get("job", "file")]
        sock.sendall(job(header, data))
        status = 0
    finally:  # whatever happened (MemoryError…): no cleanup, no atexit
        os._exit(status)


def _file_job(header: dict, data: bytes) -> bytes:
    from carnet.documents import files

    try:
        checked = files.file_check(header["name"], data)
        report = {
            "media_type": checked.media_type,
            "extension": checked.extension,
            "suggested_title": checked.suggested_title,
        }
    except files.FileRefused as exc:
        report = {"refused": str(exc)}
    return json.dumps(report).encode()


def _mail_job(header: dict, data: bytes) -> bytes:
    from carnet.messaging import mime

    return mime.mail_check_job(header, data)


# What a child may be asked to do: a file (`files.file_check_isolated`), or a whole mail of
# the SMTP gateway (`messaging.mime`: read, and its attachments checked).
JOBS = {"file": _file_job, "mail": _mail_job}


def _bound(cpu_seconds: int, memory_bytes: int) -> None:
    # Past the soft CPU limit the kernel sends SIGXCPU (which ends the process), SIGKILL a
    # second later.
    _lower_limit(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)
    # The memory budget counts from the checker's own size (small: a few tens of Mio).
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _lower_limit(resource.RLIMIT_AS, size + memory_bytes)


def _lower_limit(which: int, soft: int, hard: int | None = None) -> None:
    _, current = resource.getrlimit(which)
    hard = soft if hard is None else hard
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
