"""Learner HTML/JS in the browser (issue 10): the feedback page and the formgrader's view of a submission,
opened in real Chromium.

Every payload first runs under stock nbgrader (each logs `PWNED:<name>` to the page's console when it
executes), then none runs once the course has credkit's configuration (`credkit release` writes it;
grading/safe_html.py), while the honest parts of the same notebook still render: headings, markdown
and pandas tables, images, math, bold HTML.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from checker_attacks import add_feedback_config
from grading_course import ASSIGNMENT, COURSE_ID, HONEST, NOTEBOOK, VENV_BIN, grader_env, run_credkit, run_nbgrader, submit
from nbformat.v4 import new_code_cell, new_markdown_cell
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def _log(name: str) -> str:
    return f"console.log('PWNED:{name}')"


MARKDOWN = (
    "# Rainfall report\n\n"
    f"<script>{_log('markdown-script')}</script>\n\n"
    f"<img src=\"missing.png\" onerror=\"{_log('markdown-onerror')}\">\n\n"
    f"<svg onload=\"{_log('markdown-svg-onload')}\"></svg>\n\n"
    f"<a href=\"javascript:{_log('markdown-javascript-link')}\">see my working</a>\n\n"
    f"<details open ontoggle=\"{_log('markdown-ontoggle')}\"><summary>more</summary>x</details>\n\n"
    "| month | mm |\n|---|---|\n| May | 31 |\n\n"
    f"![one pixel](data:image/png;base64,{PNG})\n\n"
    "The mean is $\\bar{x} = \\frac{1}{n}\\sum x_i$.\n"
)
CODE = "\n".join([
    "from IPython.display import HTML, Javascript, Markdown, display",
    "import pandas as pd",
    f"display(HTML({'<img src=nope.png onerror=' + repr(_log('html-onerror')) + '><b>bold words</b>'!r}))",
    f"display(Javascript({_log('javascript-output')!r}))",
    f"display(HTML({'<svg onload=' + repr(_log('html-svg-onload')) + '></svg>'!r}))",
    f"display(Markdown({'<img src=gone.png onerror=' + repr(_log('markdown-output-onerror')) + '>'!r}))",
    f"display({{'image/png': {PNG!r}}}, raw=True, metadata={{'image/png': {{'width': {'1 onload=' + _log('image-width-onload').replace(' ', '')!r}}}}})",
    "display(pd.DataFrame({'month': ['May', 'June'], 'mm': [31, 12]}))",
]) + "\n"
PAYLOADS = {
    "markdown-script", "markdown-onerror", "markdown-svg-onload", "markdown-javascript-link", "markdown-ontoggle",
    "html-onerror", "javascript-output", "html-svg-onload", "markdown-output-onerror", "image-width-onload",
}


def _submit_attacker(course: Path) -> None:
    dest = submit(course, "mallory", HONEST)
    nb = nbformat.read(dest / f"{NOTEBOOK}.ipynb", as_version=4)
    nb.cells[2:2] = [new_markdown_cell(MARKDOWN), new_code_cell(CODE)]
    nbformat.write(nb, dest / f"{NOTEBOOK}.ipynb")
    submit(course, "alice", HONEST)


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """Replace pytest-jupyter's autouse event loop: sync Playwright runs its own (as in tests/lab)."""
    return None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process server here: the formgrader's is a subprocess."""
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser: object, url: str, *, click: str = "see my working") -> tuple[Page, set[str]]:
    """Open ``url``, click the learner's link, and return the page and every PWNED name it logged."""
    context = browser.new_context()  # type: ignore[attr-defined]
    # Offline, the page's CDN scripts (jQuery, MathJax) never load; the template's own JavaScript-output
    # wrapper starts with `$(...)`: give it a `$`, as the online page would have.
    context.add_init_script("window.$ = window.$ || function () { return {}; };")
    context.route("**/*", lambda route: route.abort() if route.request.url.startswith(("http://", "https://"))
                  and "127.0.0.1" not in route.request.url else route.continue_())
    page = context.new_page()
    logged: set[str] = set()
    page.on("console", lambda message: logged.add(message.text.removeprefix("PWNED:"))
            if message.text.startswith("PWNED:") else None)
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.goto(url, wait_until="load", timeout=60_000)
    link = page.get_by_text(click)
    link.click(timeout=10_000)
    page.wait_for_timeout(500)
    return page, logged


def _honest_parts_render(page: Page) -> None:
    assert page.locator("h1", has_text="Rainfall report").count() == 1
    assert page.locator("table th", has_text="month").count() >= 2  # the markdown table and pandas'
    assert page.locator("table.dataframe td", has_text="31").count() == 1
    assert page.locator("b", has_text="bold words").count() == 1
    assert page.get_by_text("\\bar{x}").count() >= 1  # the math, for MathJax to typeset
    pixel = page.locator('img[alt="one pixel"]')
    assert pixel.count() == 1 and pixel.evaluate("img => img.complete && img.naturalWidth") == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def formgrader(course: Path) -> Iterator[str]:
    """A real Jupyter server in the course folder with nbgrader's formgrader; yields its URL with a token."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {**grader_env(course), "JUPYTER_CONFIG_DIR": str(course.parent / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(course.parent / "jupyter-runtime")}
    log = (course.parent / "server.log").open("w")
    process = subprocess.Popen(
        [str(VENV_BIN / "jupyter"), "server", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("jupyter server did not start:\n" + (course.parent / "server.log").read_text())
            time.sleep(0.3)
        yield f"{url}|{token}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _submission_url(course: Path, server: str, learner: str) -> str:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        submission_id = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, learner).id
    url, token = server.split("|")
    return f"{url}/formgrader/submissions/{submission_id}?token={token}"


def _feedback_url(course: Path, learner: str) -> str:
    return (course / "feedback" / learner / ASSIGNMENT / f"{NOTEBOOK}.html").as_uri()


def test_learner_scripts_run_in_stock_feedback_and_formgrader_and_nowhere_under_credkit(
        course: Path, stock_course: Path, browser: object) -> None:
    # --- stock nbgrader: every payload runs, in the learner's feedback and in the instructor's formgrader
    _submit_attacker(stock_course)
    run_nbgrader(stock_course, "autograde", ASSIGNMENT)
    run_nbgrader(stock_course, "generate_feedback", ASSIGNMENT)
    page, ran = _open(browser, _feedback_url(stock_course, "mallory"))
    assert ran == PAYLOADS, PAYLOADS ^ ran
    page.context.close()
    with formgrader(stock_course) as server:
        page, ran = _open(browser, _submission_url(stock_course, server, "mallory"))
        assert page.locator(".nbgrader_cell").count() >= 1  # it is the formgrader's submission view
        assert ran == PAYLOADS, PAYLOADS ^ ran
        page.context.close()

    # --- credkit: the course's configuration, with the lines credkit release asks for, sanitizes both views
    add_feedback_config(course)
    _submit_attacker(course)
    proc = run_credkit(course)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_nbgrader(course, "generate_feedback", ASSIGNMENT)
    page, ran = _open(browser, _feedback_url(course, "mallory"))
    assert ran == set(), ran
    _honest_parts_render(page)
    page.screenshot(path=str(course.parent / "feedback-sanitized.png"))
    page.context.close()
    with formgrader(course) as server:
        page, ran = _open(browser, _submission_url(course, server, "mallory"))
        assert page.locator(".nbgrader_cell").count() >= 1
        assert ran == set(), ran
        _honest_parts_render(page)
        page.context.close()
