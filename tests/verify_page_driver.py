"""Drives verify.html in Debian's Chromium (Playwright): give it files, read each credential's verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "TIMEOUT_MS", "VerifyPage"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 20_000  # two shared cores: time for the page, not luck


class VerifyPage:
    """verify.html in a tab: give it files, read each credential's verdict."""

    def __init__(self, page: Page) -> None:
        self.page = page
        page.wait_for_selector("body[data-ready=true]", timeout=TIMEOUT_MS)

    def _wait(self, before: str | None) -> list[dict[str, Any]]:
        self.page.wait_for_function(
            f"document.body.dataset.done && document.body.dataset.done !== {json.dumps(before)}"
            " && document.body.dataset.done === document.body.dataset.started",
            timeout=TIMEOUT_MS,
        )
        return self.page.eval_on_selector_all(
            "#results section",
            """cards => cards.map(c => ({
                verdict: c.dataset.verdict,
                headline: c.querySelector('h2')?.textContent ?? '',
                reason: c.querySelector('[data-testid=reason]')?.textContent ?? '',
                issuer: c.querySelector('[data-testid=issuer]')?.textContent ?? '',
                status: c.querySelector('[data-testid=status]')?.textContent ?? '',
                skills: [...c.querySelectorAll('[data-testid=skills] tr')].slice(1).map(r => [...r.cells].map(d => d.textContent)),
                checks: Object.fromEntries([...c.querySelectorAll('[data-testid=checks] tr')].map(r => [r.dataset.check, r.dataset.outcome])),
            }))""",
        )

    def check(self, *files: str | Path, online: bool = True) -> list[dict[str, Any]]:
        self.page.click("#clear")
        self.page.set_checked("#online", online)
        before = self.page.evaluate("document.body.dataset.done ?? null")
        self.page.set_input_files("#pick", [str(f) for f in files])
        return self._wait(before)

    def drop(self, name: str, text: str) -> list[dict[str, Any]]:
        """A real drop event on the drop zone, carrying one file."""
        self.page.click("#clear")
        before = self.page.evaluate("document.body.dataset.done ?? null")
        transfer = self.page.evaluate_handle(
            "([name, text]) => { const t = new DataTransfer(); t.items.add(new File([text], name, {type: 'application/json'})); return t; }",
            [name, text],
        )
        self.page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
        return self._wait(before)
