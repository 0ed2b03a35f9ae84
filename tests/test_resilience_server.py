"""The server keeps answering when a worker dies (issue 11, item 7).

Without `--respawn-failed-workers` granian shut the other worker down and exited when one
worker was killed: the whole site went dark. This test starts the server exactly as
`make run` does (the command is read from the Makefile, on a free port and a scratch SQLite
database), kills one worker and expects a replacement and answers.
"""
from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60
RESPAWN_SECONDS = 30


def make_run_server_command() -> list[str]:
    """The granian command of the Makefile's `run` target."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    run_target = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    line = next(part for part in re.split(r"[;&\n]", run_target) if "granian" in part)
    return shlex.split(line.replace("$(BIN)", str(BIN)))


def documented_server_options() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"`(\S*granian [^`]+)`", readme).group(1)
    return {word for word in command.split() if word.startswith("--")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_option(command: list[str], name: str, value: str) -> list[str]:
    at = command.index(name)
    return command[:at + 1] + [value] + command[at + 2:]


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def answers(port: int, timeout: float = 5) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                    timeout=timeout) as reply:
            return reply.status == 200
    except OSError:
        return False


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def server(tmp_path):
    port = free_port()
    command = with_option(make_run_server_command(), "--port", str(port))
    env = dict(os.environ, GRANIAN_RESPAWN_INTERVAL="0.5",
               VOLUNTEER_HUB_DATABASE_URL=f"sqlite:///{tmp_path / 'server.db'}",
               VOLUNTEER_HUB_SECRET_KEY="server-test", VOLUNTEER_HUB_ID_HASH_KEY="server-test",
               VOLUNTEER_HUB_DATA_ENCRYPTION_KEY="Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
               VOLUNTEER_HUB_VAPID_PRIVATE_KEY="unused")
    log = (tmp_path / "granian.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        assert wait_for(lambda: answers(port) and len(children(process.pid)) == 2,
                        STARTUP_SECONDS), "granian did not start two workers"
        yield process, port
    finally:
        # Not a graceful stop: granian waits for a respawned worker to finish starting.
        with contextlib.suppress(ProcessLookupError):  # the group may be gone already
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()
        print((tmp_path / "granian.log").read_text()[-3000:])  # shown when the test fails


def test_a_killed_worker_is_replaced_and_the_site_answers(server):
    process, port = server
    first_workers = children(process.pid)
    victim = min(first_workers)
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        workers = children(process.pid)
        return len(workers - first_workers) == 1 and victim not in workers

    wait_for(lambda: process.poll() is not None or replaced(), RESPAWN_SECONDS)
    assert process.poll() is None, "the server exited"
    assert replaced(), "the dead worker was not replaced"
    # A request that reaches the replacement while it loads the app waits for it.
    assert all(answers(port, timeout=RESPAWN_SECONDS) for _ in range(10))


def test_the_readme_documents_the_same_guard():
    assert "--respawn-failed-workers" in documented_server_options()
    assert "--respawn-failed-workers" in make_run_server_command()
