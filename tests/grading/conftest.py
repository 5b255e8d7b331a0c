"""Fixtures for the grading tests: one real nbgrader course, released once, copied per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from grading_course import build_course, copy_course


@pytest.fixture(scope="session")
def template_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_course(tmp_path_factory.mktemp("template"))


@pytest.fixture
def course(template_course: Path, tmp_path: Path) -> Path:
    return copy_course(template_course, tmp_path / "ours")


@pytest.fixture
def stock_course(template_course: Path, tmp_path: Path) -> Path:
    return copy_course(template_course, tmp_path / "stock")
