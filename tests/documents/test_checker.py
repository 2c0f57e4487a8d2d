"""The checker process (documents.checker): one per process, started at the first check, again
after it has died; each check applies the caller's settings, not the checker's."""

import json
import os
import signal
import time

import pytest

from carnet.documents import checker
from carnet.documents.files import FileRefused, file_check_isolated

from .conftest import image_bytes, pdf_bytes


def test_a_checker_killed_is_replaced_at_the_next_check():
    assert file_check_isolated("Compte rendu.pdf", pdf_bytes()).media_type == "application/pdf"
    first = checker.checker_pid()
    os.kill(first, signal.SIGKILL)
    os.waitpid(first, 0)  # this process started it: it is ours to reap
    assert file_check_isolated("Radio.png", image_bytes()).media_type == "image/png"
    assert checker.checker_pid() not in (None, first)


def test_a_new_checker_is_ready_before_any_check_is_handed_to_it():
    """A check's timeout is counted from a checker that has loaded its libraries: a cold
    start on a busy node (a web worker just restarted) is not a file "too complex"."""
    checker.checker_stop()
    sock = checker._client.connect()
    try:
        with open(f"/proc/{checker.checker_pid()}/maps") as maps:
            assert "PIL/_imaging" in maps.read()  # loaded by the preload, before "ready"
    finally:
        sock.close()
    assert file_check_isolated("Compte rendu.pdf", pdf_bytes()).media_type == "application/pdf"


def test_a_checker_that_cannot_start_is_a_server_error_not_a_verdict(monkeypatch):
    checker.checker_stop()
    monkeypatch.setattr(checker.sys, "executable", "/bin/false")  # exits at once
    with pytest.raises(checker.CheckerUnavailable, match="did not start"):
        file_check_isolated("Note.txt", b"Normal\n")
    assert checker.checker_pid() is None
    monkeypatch.undo()
    assert file_check_isolated("Note.txt", b"Normal\n").media_type.startswith("text/plain")


def test_a_checker_that_hangs_at_start_is_given_up_and_ended(monkeypatch, tmp_path):
    hanging = tmp_path / "checker-bloque"
    pid_file = tmp_path / "pid"
    hanging.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    hanging.chmod(0o700)
    checker.checker_stop()
    monkeypatch.setattr(checker, "START_TIMEOUT", 2.0)
    monkeypatch.setattr(checker.sys, "executable", str(hanging))
    with pytest.raises(checker.CheckerUnavailable, match="did not start"):
        file_check_isolated("Note.txt", b"Normal\n")
    assert checker.checker_pid() is None
    assert not os.path.exists(f"/proc/{pid_file.read_text().strip()}")  # killed and reaped


def test_the_callers_limits_apply_in_the_child(settings):
    data = pdf_bytes()
    settings.CARNET = {**settings.CARNET, "DOCUMENT_MAX_BYTES": len(data) - 1}
    with pytest.raises(FileRefused, match="^Le fichier dépasse"):
        file_check_isolated("Compte rendu.pdf", data)
    settings.CARNET = {**settings.CARNET, "DOCUMENT_MAX_BYTES": len(data), "IMAGE_MAX_PIXELS": 99}
    assert file_check_isolated("Compte rendu.pdf", data).media_type == "application/pdf"
    with pytest.raises(FileRefused, match="^L'image est trop grande"):
        file_check_isolated("Radio.png", image_bytes())


def test_the_checker_ends_with_its_owner():
    """Its control socket closed (the owner ended), the checker leaves."""
    file_check_isolated("Note.txt", "Résultat : normal\n".encode())
    pid = checker.checker_pid()
    checker.checker_stop()  # closes the control socket and waits for the checker
    assert not os.path.exists(f"/proc/{pid}")
    assert file_check_isolated("Note.txt", b"Normal\n").media_type.startswith("text/plain")


def test_the_checker_gets_no_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("CARNET_KEYS", "1:secret-de-test")
    monkeypatch.setenv("SECRET_KEY", "secret-de-test")
    checker.checker_stop()  # a new checker, started with this environment
    file_check_isolated("Note.txt", b"Normal\n")
    with open(f"/proc/{checker.checker_pid()}/environ", "rb") as environ:
        names = {item.split(b"=", 1)[0] for item in environ.read().split(b"\0") if item}
    assert b"CARNET_KEYS" not in names and b"SECRET_KEY" not in names
    assert b"DATABASE_URL" not in names
    assert b"PYTHONPATH" in names


# --- Sessions: several checks of one sender in one child ---------------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "State:\tZ" not in status.read()
    except FileNotFoundError:
        return False


def _no_child_left():
    deadline = time.monotonic() + 10
    while checker.checker_children() and time.monotonic() < deadline:
        time.sleep(0.02)
    return checker.checker_children() == []


@pytest.fixture
def session():
    """A session, its child (if any) ended afterwards; none left by an earlier test."""
    assert _no_child_left()
    opened = checker.CheckerSession()
    yield opened
    opened.close()
    assert _no_child_left()


def test_a_session_checks_in_one_child_which_ends_with_the_session(session):
    assert file_check_isolated("cr.pdf", pdf_bytes(), session).media_type == "application/pdf"
    [child] = checker.checker_children()
    assert file_check_isolated("Radio.png", image_bytes(), session).media_type == "image/png"
    with pytest.raises(FileRefused, match="^Ce format n'est pas accepté"):
        file_check_isolated("notes.exe", b"MZ\x90\x00" + b"\x00" * 200, session)
    assert checker.checker_children() == [child]  # the same child, still waiting
    session.close()
    assert _no_child_left()


def test_a_session_child_is_replaced_after_max_jobs(session):
    session.max_jobs = 2
    children = []
    for _ in range(3):
        file_check_isolated("Note.txt", b"Normal\n", session)
        assert _alive(checker.checker_children()[-1])
        children.append(checker.checker_children()[-1])
    assert children[0] == children[1] != children[2]


def test_a_session_child_that_died_idle_is_replaced_at_the_next_check(session):
    file_check_isolated("Note.txt", b"Normal\n", session)
    [child] = checker.checker_children()
    os.kill(child, signal.SIGKILL)
    assert file_check_isolated("cr.pdf", pdf_bytes(), session).media_type == "application/pdf"
    assert checker.checker_children() not in ([], [child])


@pytest.mark.parametrize(("cpu", "timeout"), [(1, 10), (60, 0.5)])  # CPU bound; wall time
def test_a_session_child_stopped_by_its_bounds_is_never_given_another_file(
    settings, session, cpu, timeout
):
    from tests.documents.test_hostile_files import object_stream_bomb

    settings.CARNET = {
        **settings.CARNET,
        "FILE_CHECK_CPU_SECONDS": cpu,
        "FILE_CHECK_TIMEOUT_SECONDS": timeout,
        "FILE_CHECK_MEMORY_BYTES": 256 * 1024 * 1024,
    }
    file_check_isolated("Note.txt", b"Normal\n", session)
    [child] = checker.checker_children()
    with pytest.raises(FileRefused, match="trop complexe"):
        file_check_isolated("bombe.pdf", object_stream_bomb(pages=4, megabytes=15), session)
    assert file_check_isolated("cr.pdf", pdf_bytes(), session).media_type == "application/pdf"
    assert ended(child)  # killed, not kept for the next file (on a loaded machine, not at once)


def ended(pid: int, within: float = 10.0) -> bool:
    """Whether the checker's child `pid` is gone within `within` seconds (a synchronisation
    with the kernel's reaping, not a measure of speed)."""
    deadline = time.monotonic() + within
    while pid in checker.checker_children():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_closing_a_session_during_a_check_ends_its_child_after_the_check(session):
    file_check_isolated("Note.txt", b"Normal\n", session)
    [child] = checker.checker_children()
    with session._lock:  # a check in progress in another thread
        session.close()
        assert _alive(child)  # not closed under the running check
    file_check_isolated("Note.txt", b"Normal\n", session)  # the check ends: the child is let go
    assert _no_child_left()


def test_a_session_child_past_the_callers_timeout_is_let_go_its_late_report_never_read(
    settings, session
):
    """The caller stopped waiting while the child worked on: its report, written late, must
    never pass for the next file's."""
    limits = settings.CARNET
    header = {
        "cpu": 60,
        "memory": limits["FILE_CHECK_MEMORY_BYTES"],
        "timeout": 60,
        "settings": {key: limits[key] for key in checker.CHECK_SETTINGS},
    }
    slow = pdf_bytes(pages=20)
    assert session.check({**header, "name": "long.pdf"}, slow, timeout=0) is None
    time.sleep(1)  # the child has finished and written its report meanwhile
    report = session.check({**header, "name": "Note.txt"}, b"Normal\n", timeout=10)
    assert json.loads(report)["media_type"].startswith("text/plain")


def _cpu_limit(pid: int) -> tuple[str, str]:
    with open(f"/proc/{pid}/limits") as limits:
        for line in limits:
            if line.startswith("Max cpu time"):
                return tuple(line.split()[3:5])
    raise AssertionError("no cpu line")


def test_a_childs_cpu_over_its_life_is_bounded_by_the_jobs_it_may_be_given(settings, session):
    settings.CARNET = {**settings.CARNET, "FILE_CHECK_CPU_SECONDS": 2}
    session.max_jobs = 3
    file_check_isolated("Note.txt", b"Normal\n", session)
    [child] = checker.checker_children()
    assert _cpu_limit(child) == ("6", "7")  # 3 jobs of 2 s; SIGKILL a second later
    lone = checker.CheckerSession(max_jobs=1)  # what a lone check asks: one job's worth
    try:
        file_check_isolated("Note.txt", b"Normal\n", lone)
        [other] = [pid for pid in checker.checker_children() if pid != child]
        assert _cpu_limit(other) == ("2", "3")
    finally:
        lone.close()


def test_checks_work_with_socket_numbers_past_1023(session):
    """The gateway holds a checker socket per connection: numbers past select()'s 1023."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("this machine allows fewer than 1 200 open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert file_check_isolated("cr.pdf", pdf_bytes(), session).media_type == "application/pdf"
        assert file_check_isolated("cr.pdf", pdf_bytes()).media_type == "application/pdf"
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
