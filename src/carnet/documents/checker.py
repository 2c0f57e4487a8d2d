"""The file checker: a small process that forks bounded children to check files and mails.

`files.file_check_isolated` used to fork the web worker (or the SMTP gateway) itself for each
upload: forking a process of 150+ Mio, with threads, and the child's copy-on-write faults and
teardown, cost 15 to 30 ms of CPU per file, more than the check. The checker is started once
per process (`python -m carnet.documents.checker`), imports only what `files.file_check` needs
(filetype, Pillow, pypdf, no database, Django's settings left empty), and forks *itself* for
each check (or each sender's session): a child of about 40 Mio, its own address space, bounded
in CPU (RLIMIT_CPU), memory (RLIMIT_AS) and wall time (a real-time timer that ends it), no core
file, and gone after it has answered (a session: after its sender's last file).

The protocol, over a Unix socket pair that only the two processes hold:
- the client sends one byte and, with it (SCM_RIGHTS), one end of a new socket pair; the
  checker forks, and its child serves that socket: jobs, one after the other, until the
  client closes it. For each job the client writes a JSON header line (the job, its bounds,
  the limits the check reads from settings, the content's size) and the content; the child
  answers "+" as soon as it has the header, then the report's size on a line and the report.
  Jobs (`JOBS`): a file — one line of JSON ({"media_type", "extension", "suggested_title"} or
  {"refused": ...}); a professional's mail (`messaging.mime`) — read, and each attachment
  checked;
- a lone check (`check`) is one job in a child of its own. A `CheckerSession` gives several
  jobs of one sender to one child (the SMTP gateway: one per connection), never to a child
  stopped by its bounds or past the caller's timeout;
- no "+" from a new child: no child ran (the checker could not fork), which is a server error
  (`CheckerUnavailable`), never a verdict on the file;
- each job is bounded in CPU (ITIMER_PROF) and wall time (ITIMER_REAL), whose default actions
  end the child; memory (RLIMIT_AS) and CPU (RLIMIT_CPU) for the child's whole life;
- the checker ignores SIGCHLD, so the kernel reaps its children: none is ever left a zombie;
- it is started with only PATH, the locale, TZ and PYTHONPATH from the environment: no key,
  password or database address within reach of a parser exploit;
- it leaves when the client's end of the control socket closes (its owner has ended); a child
  when its socket closes, or after IDLE_SECONDS without a job.

A child that is killed by its bounds or crashes during a job writes no report, and the client
reads end of file: `file_check_isolated` refuses the file as too complex.
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
# A new checker starts Python and preloads the checks' libraries (about a second, more on a
# busy node): it says when it is ready, and no check's time is counted before that. Below
# gunicorn's worker timeout (30 s), so that a checker that hangs is our error page, not a kill.
START_TIMEOUT = 20.0
READY = b"r"
KEPT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
IDLE_SECONDS = 900  # a child left waiting for a job this long leaves
LIFE_JOBS_MAX = 1000  # a child's jobs, at most, whatever a caller asks


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
        ours.settimeout(START_TIMEOUT)
        try:
            ready = ours.recv(len(READY))
        except OSError:  # past the timeout
            ready = b""
        if ready != READY:  # it failed to start (its error is on stderr), or hangs
            ours.close()
            process.kill()
            process.wait()
            raise CheckerUnavailable("the file checker did not start")
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

    def connect(self) -> socket.socket:
        """A new child of the checker, and our end of its socket."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with theirs:
                self._hand_over(theirs)
        except BaseException:
            ours.close()
            raise
        return ours


def _job(
    sock: socket.socket, header: dict, data: bytes, deadline: float, *, jobs: int = 1
) -> bytes | None:
    """One job on a child's socket: its report (empty: the child was stopped by its bounds or
    crashed during the job), or None past the deadline. _Gone if the child never took the job
    (it had ended before, or no child was forked). `jobs`: how many the child may be given in
    all (its CPU over its whole life is bounded by that many jobs' worth)."""
    sock.settimeout(max(deadline - time.monotonic(), 0.001))
    try:
        sock.sendall(json.dumps({**header, "size": len(data), "jobs": jobs}).encode() + b"\n")
        sock.sendall(data)
    except TimeoutError:
        return None
    except OSError:  # the child ended before reading everything: what it wrote says
        pass
    received = _read_report(sock, deadline)
    if received is None:
        return None
    if not received.startswith(STARTED):
        raise _Gone
    size, newline, report = received[len(STARTED) :].partition(b"\n")
    if not newline or not size.isdigit() or int(size) != len(report):
        return b""  # cut short: stopped during the job
    return report


class _Gone(Exception):
    """The child was not there to take the job."""


SIZE_LINE_MAX = 24  # "+", then the report's size in digits and a newline


def _read_report(sock: socket.socket, deadline: float) -> bytes | None:
    """What the child writes for one job: "+", the report's size on a line, the report; read
    until it is whole, or end of file, or None past the deadline. (poll, not select: the
    gateway's sockets may be numbered past 1023.)"""
    chunks, received, expected = [], 0, None
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    sock.setblocking(False)
    try:
        while (left := deadline - time.monotonic()) > 0:
            if not poller.poll(max(left * 1000, 1)):
                continue
            try:
                chunk = sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            received += len(chunk)
            if expected is None:  # the size line, read once from the first bytes
                head = b"".join(chunks)[: len(STARTED) + SIZE_LINE_MAX]
                size, newline, _ = head[len(STARTED) :].partition(b"\n")
                if newline and size.isdigit():
                    expected = len(STARTED) + len(size) + 1 + int(size)
            if expected is not None and received >= expected:
                return b"".join(chunks)
        return None
    finally:
        sock.setblocking(True)


class CheckerSession:
    """Several checks of one sender, one after the other, in one child of the checker.

    A child costs more to start than most checks (a fork and its copy-on-write faults: about
    10 ms of CPU here). The SMTP gateway keeps one per connection: everything that child
    reads comes from the same authenticated professional. Each job is bounded as a lone check
    is (CPU, wall time; memory, and CPU for the child's whole life); a child stopped by its
    bounds, past the timeout, or whose job failed in any way is never given another job; after
    `max_jobs` jobs the next one goes to a new child. Not for several threads at once; `close`
    may come from another thread."""

    def __init__(self, max_jobs: int = 100):
        self.max_jobs = max_jobs
        self._sock = None
        self._jobs = 0
        self._lock = threading.Lock()
        self._closing = False

    def check(self, header: dict, data: bytes, timeout: float) -> bytes | None:
        """As `check`: the report, b"" if the child was stopped, None past the timeout."""
        with self._lock:
            report = self._check(header, data, timeout)
        if self._closing:  # closed while the job ran (close() found the lock taken)
            self.close()
        return report

    def _check(self, header: dict, data: bytes, timeout: float) -> bytes | None:
        for attempt in (1, 2):
            fresh = self._sock is None or self._jobs >= self.max_jobs
            if fresh:
                self._close()
                self._sock = _client.connect()
            if attempt == 1 or fresh:  # counted from a checker ready to take the job
                deadline = time.monotonic() + timeout
            try:
                report = _job(self._sock, header, data, deadline, jobs=self.max_jobs)
            except _Gone:
                self._close()
                if fresh or attempt == 2:
                    raise CheckerUnavailable("the file checker started no child") from None
                continue  # the idle child had ended (its owner's connection lasted long)
            except BaseException:  # whatever failed, its report may still come: let it go
                self._close()
                raise
            self._jobs += 1
            if not report:  # stopped by its bounds, or timed out: not reused
                self._close()
            return report
        raise AssertionError("unreachable")

    def close(self) -> None:
        """The child ends when its socket closes: now, or at the end of a job in progress
        (never waits: the SMTP loop calls this)."""
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                self._close()
            finally:
                self._lock.release()

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._jobs = None, 0


_client = _Client()


def check(header: dict, data: bytes, timeout: float) -> bytes | None:
    """One check in a child of its own: the child's report (empty: it was stopped by its
    bounds or crashed), or None if it has not answered within `timeout` seconds (its own
    timer ends it meanwhile). CheckerUnavailable if no child was started (the checker could
    not fork): a server error, not a verdict."""
    sock = _client.connect()
    deadline = time.monotonic() + timeout  # from a checker ready (it may have just started)
    try:
        try:
            report = _job(sock, header, data, deadline)
        except _Gone:
            raise CheckerUnavailable("the file checker started no child") from None
        if report:  # the child leaves at end of file: wait for it (nothing left behind)
            sock.shutdown(socket.SHUT_WR)
            _read_report(sock, deadline)
        return report
    finally:
        sock.close()


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
    control.sendall(READY)
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
    """Jobs, one after the other, until the socket closes: for each, a JSON header line (the
    job, its bounds, the caller's settings, the content's size) and the content; "+" as soon
    as the header is read, then the report's size on a line and the report."""
    status = 1
    try:
        _lower_limit(resource.RLIMIT_CORE, 0)  # no core file holding a patient's document
        sock = socket.socket(fileno=fd)
        reader = sock.makefile("rb")
        bounded = False
        while True:
            sock.settimeout(IDLE_SECONDS)  # a caller that forgot us: we leave
            line = reader.readline(HEADER_MAX)
            if not line.endswith(b"\n"):  # end of file (the caller is done), or junk
                status = 0 if not line else 1
                break
            header = json.loads(line)
            sock.settimeout(None)
            sock.sendall(STARTED)  # the job runs: from now on, no report means a refusal
            # The wall-time bound first: whatever happens next (a slow sender included), the
            # child ends by SIGALRM's default action; CPU likewise by SIGPROF's.
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.setitimer(signal.ITIMER_REAL, max(float(header["timeout"]), 0.01))
            signal.signal(signal.SIGPROF, signal.SIG_DFL)
            signal.setitimer(signal.ITIMER_PROF, max(float(header["cpu"]), 0.01))
            size = int(header["size"])
            data = reader.read(size)
            if len(data) != size:
                break
            if not bounded:  # memory, and CPU over the child's whole life
                _bound(header["cpu"], header["memory"], jobs=int(header.get("jobs", 1)))
                bounded = True
            settings.CARNET = header["settings"]
            job = JOBS[header.get("job", "file")]
            report = job(header, data)
            del data
            sock.sendall(b"%d\n" % len(report) + report)
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_REAL, 0)
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


def _bound(cpu_seconds: int, memory_bytes: int, *, jobs: int = 1) -> None:
    # Each job is bounded by its CPU timer; the child's whole life too, by the kernel (a timer
    # that code taken over could stop): as many jobs' worth as it may be given, one for a lone
    # check. Past the soft limit the kernel sends SIGXCPU (which ends the process), SIGKILL a
    # second later.
    life = int(cpu_seconds) * min(max(jobs, 1), LIFE_JOBS_MAX)
    _lower_limit(resource.RLIMIT_CPU, life, life + 1)
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
