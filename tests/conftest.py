"""Suite-wide rules: a skipped or xfailed test fails the run (it would prove nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

_not_run: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _not_run.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _not_run and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if _not_run:
        terminalreporter.write_line(
            f"FAILED: {len(_not_run)} test(s) skipped or xfailed; a test that does not run proves nothing:",
            red=True,
        )
        for nodeid in _not_run:
            terminalreporter.write_line(f"  {nodeid}", red=True)


@pytest.fixture(scope="session")
def postgres_url() -> "Iterator[str]":
    """A SQLAlchemy URL on a real PostgreSQL server started for this test session."""
    from tests.postgres import postgres_server

    with postgres_server() as url:
        yield url
