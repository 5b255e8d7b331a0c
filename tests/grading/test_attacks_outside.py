"""Attacks from outside the kernel: each works under stock `nbgrader autograde`, gains nothing under
`credkit grade` (no score above honest work, no other learner's grade changed, the batch completes,
no canary in any output, feedback or log)."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from pathlib import Path

import pytest
from grading_attacks import readers, resources
from grading_course import (
    ASSIGNMENT, CANARIES, CANARY_ENV, CANARY_HIDDEN, CANARY_KEY, CANARY_OTHER, CANARY_SOLUTION,
    HONEST, all_text, auto_scores, run_credkit, run_nbgrader, submit, total_scores,
)

ALICE = {**HONEST, "squares": f"# {CANARY_OTHER}\n" + HONEST["squares"]}


class Listener:
    """A TCP listener on the grader's loopback that records whatever connects."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(1024) or b"<connected>")
                except OSError:
                    self.received.append(b"<connected>")

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Listener:
    lst = Listener()
    yield lst
    lst.close()


def _outputs(course: Path) -> str:
    """Only the cell outputs of every autograded notebook (sources legitimately hold hidden tests)."""
    texts = []
    for path in (course / "autograded").rglob("*.ipynb"):
        nb = json.loads(path.read_text())
        texts.append(json.dumps([c.get("outputs", []) for c in nb["cells"]]))
    return "\n".join(texts)


def _feedback_outputs(course: Path) -> str:
    run_nbgrader(course, "generate_feedback", ASSIGNMENT)
    return "\n".join(p.read_text() for p in (course / "feedback").rglob("*.html"))


def _submit_batch_a(course: Path, port: int, token: str) -> None:
    key_file = str(course.parent / "issuer-key.json")
    submit(course, "alice", ALICE)
    for name, code in readers(str(course), key_file, port, token).items():
        submit(course, name, code)


def test_reading_and_reaching_out(course: Path, stock_course: Path, listener: Listener) -> None:
    token = uuid.uuid4().hex[:8]
    # --- stock nbgrader: every one of these works
    _submit_batch_a(stock_course, listener.port, token)
    run_nbgrader(stock_course, "autograde", ASSIGNMENT)
    stock_out = _outputs(stock_course)
    for canary in (CANARY_SOLUTION, CANARY_HIDDEN, CANARY_OTHER, CANARY_ENV, CANARY_KEY):
        assert canary in stock_out, canary
    assert CANARY_SOLUTION in _feedback_outputs(stock_course)
    assert listener.received == [b"exfiltrated by netcat"]
    assert (stock_course / f"PWNED-{token}").exists() and Path(f"/tmp/PWNED-{token}").exists()
    assert (stock_course / "autograded" / "writer" / ASSIGNMENT / "big.bin").stat().st_size == 100 * 1024**2
    Path(f"/tmp/PWNED-{token}").unlink()
    listener.received.clear()

    # --- credkit grade: nothing
    _submit_batch_a(course, listener.port, token)
    proc = run_credkit(course, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["graded"] == 6
    feedback = _feedback_outputs(course)
    everything = all_text(course, proc.stdout, proc.stderr, feedback)
    for canary in (CANARY_SOLUTION, CANARY_ENV, CANARY_KEY):
        assert canary not in everything, canary
    assert CANARY_OTHER not in all_text(course, proc.stdout, proc.stderr, except_learner="alice")
    assert CANARY_HIDDEN not in _outputs(course)
    assert listener.received == []
    assert not list(course.glob("PWNED-*")) and not list(course.parent.glob("PWNED-*"))
    assert not Path(f"/tmp/PWNED-{token}").exists()
    assert not (course / "autograded" / "writer" / ASSIGNMENT / "big.bin").exists()
    out = _outputs(course)
    assert "blocked big file OSError" in out  # RLIMIT_FSIZE
    assert "connected" not in out and "blocked ConnectionRefusedError" in out or "blocked OSError" in out
    for name in ("alice", "reader", "peeker", "thief", "netcat", "writer"):
        assert total_scores(course, name) == 10.0, name


def test_gradebook_resources_and_the_grading_process(course: Path, stock_course: Path) -> None:
    attacks = resources(str(stock_course))
    # --- stock nbgrader
    submit(stock_course, "alice", HONEST)
    submit(stock_course, "zed", HONEST)
    for name, code in attacks.items():
        submit(stock_course, name, code)
    proc = run_nbgrader(stock_course, "autograde", ASSIGNMENT, check=False)
    assert proc.returncode != 0  # killer took the whole batch down
    out = _outputs(stock_course)
    assert "FORKED 200" in out and "ALLOCATED 3 GiB" in out
    flood = stock_course / "autograded" / "flooder" / ASSIGNMENT / "problem1.ipynb"
    assert flood.stat().st_size > 30 * 1024**2
    assert total_scores(stock_course, "forger") > 10.0
    assert total_scores(stock_course, "alice") == 0.0  # another learner's grade changed
    assert not (stock_course / "autograded" / "zed").exists()  # never graded: the batch died

    # --- credkit grade
    attacks = resources(str(course))
    submit(course, "alice", HONEST)
    submit(course, "zed", HONEST)
    for name, code in attacks.items():
        submit(course, name, code)
    (course / "nbgrader_config.py").write_text(
        (course / "nbgrader_config.py").read_text()
        + "c.SandboxedExecute.output_bytes = 1024 * 1024\nc.SandboxedExecute.total_timeout = 30\n"
        # 200 forks may take more than 2 s on a busy machine, and a cell still running past its
        # timeout and the interrupt's grace is killed with its kernel
        + "c.Execute.timeout = 5\nc.SandboxedExecute.timeout = 5\n")
    proc = run_credkit(course, "--json")
    summary = json.loads(proc.stdout)
    # A learner kernel that dies (killed, or killing its runner) or hangs past every interrupt takes
    # only its own remaining cells down: the submission is graded, those cells score 0.
    assert summary["failures"] == [] and summary["graded"] == 9 and proc.returncode == 0, summary
    for name in ("killer", "suicide", "hanger"):
        assert total_scores(course, name) == 0.0, (name, auto_scores(course, name))
    for name in ("alice", "zed", "forger", "forkbomb", "bigmem", "flooder"):
        assert total_scores(course, name) == 10.0, name
        assert auto_scores(course, name) == {"test_squares": 2.0, "test_squares_hidden": 3.0, "test_mean": 5.0}
    out = _outputs(course)
    assert "blocked" in out and "forged" not in out
    assert "FORKED 200" not in out and "FORKED" in out
    assert "blocked MemoryError" in out
    flood = course / "autograded" / "flooder" / ASSIGNMENT / "problem1.ipynb"
    assert flood.stat().st_size < 3 * 1024**2
    assert "output limit" in flood.read_text()
    for canary in CANARIES:
        assert canary not in all_text(course, proc.stdout, proc.stderr) or canary == CANARY_HIDDEN
    assert CANARY_HIDDEN not in out
