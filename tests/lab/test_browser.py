"""The Credentials panel in a real JupyterLab (subprocess) driven in Debian's Chromium by Playwright."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import parse_qs, urlsplit
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from kit.baking import unbake
from tests.helpers import CREDKIT
from tests.lab.conftest import ADA_EMAIL, Wallets, ada_award, build_wallets

# The suite shares two cores with kernels and sandboxes: give the UI time, not luck.
expect.set_options(timeout=20_000)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to a temporary folder; CREDKIT_SCREENSHOTS=docs refreshes the README's ones.
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """Replace pytest-jupyter's autouse event loop here: sync Playwright runs its own loop, and the
    in-process server is not used (a sync page cannot reach it; the lab is a subprocess)."""
    return None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process server to clean up in this module."""
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    def __init__(self, url: str, token: str, wallets: Wallets, shots: Path, root: Path) -> None:
        self.url, self.token, self.wallets, self.shots, self.root = url, token, wallets, shots, root


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("lab")
    wallets = build_wallets(base / "wallets")
    (base / "notebooks").mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "CREDKIT_KEY"))},
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
    }
    # no "get notified about Jupyter news?" toast over the screenshots
    news = base / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    # render every cell (no windowing), so the test sees what a learner scrolls to
    tracker = base / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    log = (base / "lab.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("jupyter")),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
            f"--ServerApp.root_dir={base / 'notebooks'}",
            f"--Credkit.wallet_root={wallets.root}",
            "--Credkit.learner_id=ada",
            f"--Credkit.learner_email={ADA_EMAIL}",
            f"--Credkit.exchange_root={base / 'exchange'}",
            f"--Credkit.exchange_cache={base / 'cache'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("jupyter lab did not start:\n" + (base / "lab.log").read_text())
            time.sleep(0.3)
        shots = SCREENSHOTS if os.environ.get("CREDKIT_SCREENSHOTS") == "docs" else base / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        yield Lab(url, token, wallets, shots, base / "notebooks")
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def page(lab: Lab) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{lab.url}/lab?token={lab.token}")
        page.locator("#jp-main-dock-panel").wait_for()
        tab = page.locator('.lm-TabBar-tab[data-id="credkit-credentials"]')
        tab.click()
        page.locator("#credkit-credentials").wait_for()
        # widen the left sidebar as a learner would, by dragging its split handle
        handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
        box = handle.bounding_box()
        if box is not None:
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] + 170, box["y"] + box["height"] / 2, steps=5)
            page.mouse.up()
        yield page
        context.close()
        browser.close()


def card(page: Page, credential_id: str):
    return page.locator(f'#credkit-credentials .credkit-card[data-credential-id="{credential_id}"]')


def _verify_cli(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CREDKIT, "verify", *map(str, paths), "--recipient", ADA_EMAIL], capture_output=True, text=True)


def test_panel_lists_the_learners_credentials_with_server_status(page: Page, lab: Lab) -> None:
    ids = lab.wallets.ids
    cards = page.locator("#credkit-credentials .credkit-card")
    expect(cards).to_have_count(7)  # bob's credential in ada's folder is not listed
    good = card(page, ids["good"])
    expect(good.locator(".credkit-name")).to_have_text("pandas data wrangling")
    expect(good.locator(".credkit-issuer")).to_have_text("Example University")
    expect(good.locator(".credkit-status")).to_have_attribute("data-status", "verified")
    expect(good.locator(".credkit-skills li")).to_have_count(2)
    expect(good.locator(".credkit-skills li").first).to_contain_text("Aggregate with groupby")
    expect(good.locator(".credkit-skills li").first).to_contain_text("8 / 10")
    expect(good.locator(".credkit-dates")).to_contain_text("Expires")
    expect(card(page, ids["tampered"]).locator(".credkit-status")).to_have_attribute("data-status", "invalid")
    expect(card(page, ids["tampered"]).locator(".credkit-status")).to_have_text("Invalid")
    expect(card(page, ids["expired"]).locator(".credkit-status")).to_have_attribute("data-status", "expired")
    expect(card(page, ids["revoked"]).locator(".credkit-status")).to_have_attribute("data-status", "revoked")
    expect(card(page, ids["revoked"]).locator(".credkit-status")).to_have_text("Revoked")
    expect(card(page, ids["suspended"]).locator(".credkit-status")).to_have_attribute("data-status", "suspended")
    expect(card(page, ids["not-revoked"]).locator(".credkit-status")).to_have_attribute("data-status", "verified")
    # the badge artwork loaded (an <img> that failed would have naturalWidth 0)
    image = good.locator("img.credkit-badge")
    expect(image).to_have_attribute("src", f"/credkit/credentials/{ids['good']}/image.svg")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    page.locator("#credkit-credentials").screenshot(path=str(lab.shots / "credentials-panel.png"))
    page.screenshot(path=str(lab.shots / "jupyterlab-credentials.png"))


def test_details_downloads_verify_and_share(page: Page, lab: Lab, tmp_path: Path) -> None:
    good_id = lab.wallets.ids["good"]
    card(page, good_id).click()
    details = page.locator(f'#credkit-credentials .credkit-details[data-credential-id="{good_id}"]')
    expect(details).to_be_visible()
    expect(details.locator(".credkit-criteria")).to_have_text("At least 80% of the points on groupby and on merge tests.")
    esco = details.locator('a[href="http://data.europa.eu/esco/skill/7b9f9f6b-0000-4000-8000-000000000001"]').first
    expect(esco).to_have_text("manipulate data with pandas")
    expect(details.locator(".credkit-evidence")).to_contain_text("pandas assessment")
    expect(details.locator(".credkit-checks .credkit-check-failed")).to_have_count(0)
    expect(details.locator(".credkit-checks")).to_contain_text("proof")
    page.locator("#credkit-credentials").screenshot(path=str(lab.shots / "credential-details.png"))

    saved = {}
    for kind in ("json", "png", "svg"):
        with page.expect_download() as info:
            details.locator(f".credkit-download-{kind}").click()
        download = info.value
        assert download.suggested_filename == f"credential-{good_id}.{kind}"
        saved[kind] = tmp_path / download.suggested_filename
        download.save_as(saved[kind])
    stored = (lab.wallets.root / "ada" / f"{good_id}.json").read_text(encoding="utf-8")
    assert saved["json"].read_text(encoding="utf-8") == stored
    assert unbake(saved["png"].read_bytes()) == stored
    result = _verify_cli(saved["json"], saved["png"], saved["svg"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("OK ") == 3

    # a baked PNG altered after download no longer verifies
    altered = tmp_path / "altered.png"
    from kit.baking import bake_png

    altered.write_bytes(bake_png(saved["png"].read_bytes(), stored.replace('"value": "8"', '"value": "10"')))
    bad = _verify_cli(altered)
    assert bad.returncode == 1 and "invalid" in bad.stdout and "proof" in bad.stdout

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
    details.locator(".credkit-copy").click()
    shared = page.evaluate("navigator.clipboard.readText()")
    assert "pandas data wrangling" in shared and f"credkit verify credential-{good_id}.json" in shared
    assert lab.wallets.documents["good"]["id"] in shared
    # LinkedIn's "Add to profile" form, filled from the credential; no verify page for a did:key issuer (no domain)
    linkedin = details.locator("a.credkit-linkedin").get_attribute("href") or ""
    query = parse_qs(urlsplit(linkedin).query)
    assert linkedin.startswith("https://www.linkedin.com/profile/add?") and query["startTask"] == ["CERTIFICATION_NAME"]
    assert query["name"] == ["pandas data wrangling"] and query["organizationName"] == ["Example University"]
    assert query["certId"] == [lab.wallets.documents["good"]["id"]]
    assert query["certUrl"] == [lab.wallets.documents["good"]["credentialSubject"]["achievement"]["id"]]
    expect(details.locator("a.credkit-verify-page")).to_have_count(0)

    details.locator(".credkit-reverify").click()
    expect(page.locator(".Toastify__toast").filter(has_text="pandas data wrangling: Verified")).to_be_visible()
    details.locator(".credkit-back").click()
    expect(page.locator("#credkit-credentials .credkit-card")).to_have_count(7)


def test_a_revoked_or_suspended_credential_is_not_offered_for_sharing(page: Page, lab: Lab) -> None:
    for role, word in (("revoked", "revoked by its issuer"), ("suspended", "suspended by its issuer")):
        credential_id = lab.wallets.ids[role]
        expect(card(page, credential_id).locator(".credkit-withdrawn")).to_contain_text(word)
        card(page, credential_id).click()
        details = page.locator(f'#credkit-credentials .credkit-details[data-credential-id="{credential_id}"]')
        expect(details).to_be_visible()
        expect(details.locator(".credkit-withdrawn")).to_contain_text(f"Not shareable: {word}")
        for shared in (".credkit-copy", ".credkit-linkedin", ".credkit-verify-page"):
            expect(details.locator(shared)).to_have_count(0)
        details.locator(".credkit-back").click()
    expect(card(page, lab.wallets.ids["good"]).locator(".credkit-withdrawn")).to_have_count(0)


def test_panel_reads_well_at_the_default_sidebar_width(page: Page, lab: Lab) -> None:
    """Not widened: every status pill whole inside its card, every title on few lines."""
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        fresh = context.new_page()
        # a workspace of its own: the module's page widened the sidebar, and workspaces remember that
        fresh.goto(f"{lab.url}/lab/workspaces/default-width?token={lab.token}")
        fresh.locator("#jp-main-dock-panel").wait_for()
        if not fresh.locator("#credkit-credentials").is_visible():
            fresh.locator('.lm-TabBar-tab[data-id="credkit-credentials"]').click()
        expect(fresh.locator("#credkit-credentials .credkit-card")).to_have_count(7)
        width = fresh.locator("#credkit-credentials").bounding_box()
        assert width is not None and width["width"] < 320, width  # JupyterLab's default left sidebar
        layout = fresh.eval_on_selector_all(
            "#credkit-credentials .credkit-card",
            r"""cards => cards.map(card => {
                const pill = card.querySelector('.credkit-status').getBoundingClientRect();
                const box = card.getBoundingClientRect();
                const name = card.querySelector('.credkit-name');
                const range = document.createRange();
                range.selectNodeContents(name);
                const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
                const el = card.querySelector('.credkit-status');
                return {name: name.textContent, pillInside: pill.left >= box.left && pill.right <= box.right + 0.5,
                        pillWhole: el.scrollWidth <= el.clientWidth + 1, lines, words: name.textContent.split(/\s+/).length};
            })""",
        )
        fresh.locator("#credkit-credentials").screenshot(path=str(lab.shots / "credentials-default-width.png"))
        for item in layout:
            assert item["pillInside"] and item["pillWhole"], item
            assert item["lines"] < max(2, item["words"]), item  # never a word per line
    finally:
        context.close()


def test_tampering_after_load_shows_invalid_on_reverify(page: Page, lab: Lab) -> None:
    second_id = lab.wallets.ids["second"]
    path = lab.wallets.root / "ada" / f"{second_id}.json"
    original = path.read_text(encoding="utf-8")
    expect(card(page, second_id).locator(".credkit-status")).to_have_attribute("data-status", "verified")
    card(page, second_id).click()
    details = page.locator(f'.credkit-details[data-credential-id="{second_id}"]')
    try:
        document = json.loads(original)
        document["validUntil"] = "2099-01-01T00:00:00Z"  # stretch the expiry after signing
        path.write_text(json.dumps(document), encoding="utf-8")
        details.locator(".credkit-reverify").click()
        expect(details.locator(".credkit-details-status .credkit-status")).to_have_attribute("data-status", "invalid")
        expect(details.locator(".credkit-check-failed").first).to_contain_text("proof")
    finally:
        path.write_text(original, encoding="utf-8")
    details.locator(".credkit-back").click()


def test_new_credential_notification_and_empty_state(page: Page, lab: Lab, tmp_path: Path) -> None:
    wallet = lab.wallets.root / "ada"
    new_id = lab.wallets.put("ada", "new", lab.wallets.issue(ada_award()))
    page.locator("#credkit-credentials .credkit-refresh").click()
    expect(page.locator(".Toastify__toast").filter(has_text="New credential: pandas data wrangling")).to_be_visible()
    expect(card(page, new_id)).to_be_visible()
    expect(page.locator("#credkit-credentials .credkit-card")).to_have_count(8)

    aside = tmp_path / "aside"
    shutil.move(wallet, aside)
    try:
        page.locator("#credkit-credentials .credkit-refresh").click()
        empty = page.locator("#credkit-credentials .credkit-empty")
        expect(empty).to_contain_text("No credentials yet")
        expect(empty).to_contain_text("submit")
        page.locator("#credkit-credentials").screenshot(path=str(lab.shots / "credentials-empty.png"))
    finally:
        shutil.move(aside, wallet)
    page.locator("#credkit-credentials .credkit-refresh").click()
    expect(page.locator("#credkit-credentials .credkit-card")).to_have_count(8)


def test_skill_progress_widget_in_a_notebook(page: Page, lab: Lab) -> None:
    from tests.lab.assessment import write_assessment

    write_assessment(lab.root / "ps1", widget_cell=True)
    page.goto(f"{lab.url}/lab/tree/ps1/assessment.ipynb?token={lab.token}")
    notebook = page.locator(".jp-NotebookPanel")
    widget_cell = notebook.locator(".jp-Cell").nth(1)
    widget_cell.locator(".jp-InputArea-editor").wait_for()
    # JupyterLab may ask something on opening a notebook under load (seen once, in a full loaded
    # run): answer with its default, as a learner would, and say what it was
    try:
        page.locator(".jp-Dialog").wait_for(timeout=2_000)
        print("JupyterLab dialog answered with its default:", page.locator(".jp-Dialog").inner_text())
        page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    except PlaywrightTimeoutError:
        pass
    prompt = widget_cell.locator(".jp-InputPrompt")
    # The notebook's kernel starts in the background; a run before it is connected is dropped, so
    # run the cell until its prompt shows it queued or ran ([*] or [1]).
    deadline = time.monotonic() + 60
    while True:
        if page.locator(".jp-Dialog").count():
            print("JupyterLab dialog answered with its default:", page.locator(".jp-Dialog").inner_text())
            page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
        try:
            widget_cell.locator(".jp-InputArea-editor").click(timeout=10_000)
            page.keyboard.press("Shift+Enter")
            expect(prompt).not_to_have_text("[ ]:", timeout=3_000)
            break
        except (AssertionError, PlaywrightTimeoutError):
            if time.monotonic() > deadline:
                raise
    output = widget_cell.locator(".jp-OutputArea")
    expect(output.locator('.credkit-skill-pass[data-skill="add"]')).to_be_visible(timeout=90_000)
    expect(output.locator('.credkit-skill-fail[data-skill="mean"]')).to_be_visible()
    expect(output.locator('.credkit-credential[data-on-track="true"]')).to_contain_text("Adding")
    expect(output.locator('.credkit-credential[data-on-track="false"]')).to_contain_text("Basic statistics")
    expect(output.get_by_role("button", name="Check my skills")).to_be_visible()
    output.scroll_into_view_if_needed()
    page.screenshot(path=str(lab.shots / "skill-progress-widget.png"))
