"""A headless Debian chromium driven by Playwright; tests using it skip with a reason when absent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium) so the viewer cannot be opened")
    return str(path)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Page:
    """A page with its console errors and uncaught exceptions collected."""

    def __init__(self, browser, path: Path, width: int = 1100, height: int = 700):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function("window.driveViewer !== undefined")

    def canvas_state(self) -> dict:
        return self.page.eval_on_selector("#canvas", "c => ({...c.dataset})")

    def canvas_pixels(self) -> str:
        return self.page.eval_on_selector("#canvas", "c => c.toDataURL('image/png')")

    def set_slider(self, value: int) -> None:
        self.page.eval_on_selector(
            "#slider", "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", value
        )

    def close(self) -> None:
        self.page.close()
