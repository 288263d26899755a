"""What the real-browser test needs: ``auditlens serve dashboard`` as a real process, and
a Playwright page that waits for Streamlit rather than for the clock.

Streamlit marks the app ``data-test-script-state="running"`` while a script run is under
way; :meth:`Browser.settle` waits for it to end. Keyed widgets sit in a container with the
CSS class ``st-key-<key>``. A data table draws on a canvas: its rows are read from the
accessible table Glide Data Grid puts inside the canvas once it has focus, and a row is
picked by moving the mouse over it before clicking. A Plotly mark is clicked at its
coordinates (Plotly listens on a layer under the marks).

Every step of a test runs in :meth:`Browser.step`: it leaves a full-page screenshot under
the test's folder, and a failing step leaves ``NN-name-FAILED.png`` and fails with its path
(and the server log's tail).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]
#: Debian's chromium (.ci/run installs it; ``playwright install`` cannot download here).
CHROMIUM = Path("/usr/bin/chromium")
#: The viewport of every page (and of the README screenshots).
VIEWPORT = {"width": 1440, "height": 900}
#: Milliseconds a script run may take (a cold first run imports plotly and pandas).
RUN_MS = 90_000
#: Height of a data table's header row and of each row, in CSS pixels (Streamlit's).
HEADER_PX, ROW_PX = 36, 35
#: Height of Streamlit's header bar, which covers the top of the page as it scrolls.
HEADER_BAR_PX = 64
#: Width of a selectable table's row-marker column: clicking there picks the row.
MARKER_X = 18


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A running ``auditlens serve dashboard``: its address and its log file."""

    url: str
    log: Path

    def tail(self, lines: int = 30) -> str:
        """The end of the server's log."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def serve_dashboard(folder: Path, env: dict[str, str]) -> Iterator[Server]:
    """``auditlens serve dashboard`` started in ``folder`` (its auditlens.toml) with
    ``env``; stopped (and waited for) on leaving."""
    port = free_port()
    log = folder / "dashboard.log"
    command = [sys.executable, "-m", "auditlens.cli", "serve", "dashboard", "--port", str(port)]
    env = {**env, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=out)
    server = Server(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.url}/_stcore/health", timeout=1).text == "ok":
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the dashboard did not start:\n{server.tail()}")
            time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Browser:
    """One browser tab on the dashboard, with numbered step screenshots in ``folder``
    (``steps``: the screenshots so far, shared by the tabs of one test)."""

    page: Page
    server: Server
    folder: Path
    steps: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.set_default_timeout(RUN_MS)

    # --- steps -----------------------------------------------------------------------

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A step: a screenshot after it, or a failure naming the screenshot of it."""
        number = len(self.steps) + 1
        began = time.monotonic()
        try:
            yield
            self.settle()
        except Exception as exc:
            shot = self.folder / f"{number:02d}-{name}-FAILED.png"
            try:
                self.page.screenshot(path=shot, full_page=True)
            except Exception as missed:  # the page itself is gone
                shot = Path(f"(no screenshot: {missed})")
            raise AssertionError(
                f"browser step {number} {name!r} failed: {exc}\nscreenshot: {shot}\n"
                f"server log:\n{self.server.tail()}"
            ) from exc
        shot = self.folder / f"{number:02d}-{name}.png"
        self.page.screenshot(path=shot, full_page=True)
        self.steps.append(shot)
        print(f"step {number:2d} {name}: {time.monotonic() - began:.1f} s")  # -s shows it

    def settle(self) -> None:
        """Wait until Streamlit has no script run under way (one may start just after an
        input: give it a moment to begin), and until the charts are drawn."""
        try:
            self.page.wait_for_selector('[data-test-script-state="running"]', timeout=800)
        except PlaywrightTimeout:
            pass  # it ran and finished already, or nothing ran
        self.page.wait_for_selector(
            '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=RUN_MS
        )
        self.page.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                     .every(c => c.querySelector('.main-svg'))""",
            timeout=RUN_MS,
        )
        self.page.evaluate("document.fonts.ready.then(() => true)")

    # --- widgets ---------------------------------------------------------------------

    def key(self, key: str) -> str:
        """The CSS selector of the widget with ``key``."""
        return f".st-key-{key}"

    def choose(self, key: str, option: str | None = None, *, many: bool = False) -> None:
        """Pick ``option`` (as shown; None: the first) in the select box or multiselect
        ``key``."""
        box = self.page.locator(f"{self.key(key)} input[role=combobox]")
        box.click()
        if box.get_attribute("aria-expanded") != "true":
            box.press("ArrowDown")  # the keyboard opens the list when a click did not
        listed = self.page.get_by_role("listbox").get_by_role("option")
        (listed.first if option is None else listed.filter(has_text=_exactly(option))).click()
        if many:  # a multiselect stays open for more
            self.page.keyboard.press("Escape")
        self.settle()

    def type_text(self, key: str, text: str) -> None:
        """Type ``text`` into the text input or area ``key`` and apply it."""
        area = self.page.locator(f"{self.key(key)} textarea")
        box = area if area.count() else self.page.locator(f"{self.key(key)} input")
        box.fill(text)
        box.press("Control+Enter" if area.count() else "Enter")  # a text area applies so
        self.settle()

    def press(self, key: str) -> None:
        """Click the button ``key``."""
        self.page.click(f"{self.key(key)} button")
        self.settle()

    def link(self, text: str) -> None:
        """Follow the in-app link reading exactly ``text``."""
        links = self.page.locator('[data-testid="stPageLink"] a')
        links.filter(has_text=_exactly(text)).first.click()
        self.settle()

    def menu(self, title: str) -> None:
        """Open the page ``title`` from the sidebar's navigation."""
        self.page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
        self.settle()

    # --- tables and charts -----------------------------------------------------------

    def rows(
        self, key: str, until: Callable[[list[dict[str, str]]], bool] = bool
    ) -> list[dict[str, str]]:
        """The rows the table ``key`` shows (those drawn: the first screenful), each as
        column name -> text, once ``until`` holds for them (the grid redraws a moment
        after the run that changed it ends; its accessible table, on the next focus)."""
        canvas = self.page.locator(f"{self.key(key)} canvas[data-testid='data-grid-canvas']")
        canvas.scroll_into_view_if_needed()
        deadline = time.monotonic() + RUN_MS / 1000
        while True:
            canvas.evaluate("c => c.blur()")
            canvas.focus()
            canvas.locator("table").wait_for(state="attached")
            found: list[dict[str, str]] = canvas.evaluate(
                """c => {
                    const t = c.querySelector('table');
                    const head = [...t.querySelectorAll('thead th')].map(h => h.textContent);
                    return [...t.querySelectorAll('tbody tr')].map(r => Object.fromEntries(
                        [...r.querySelectorAll('td')].map((d, i) => [head[i], d.textContent])));
                }"""
            )
            if until(found) or time.monotonic() > deadline:
                return found
            self.page.wait_for_timeout(200)  # polling, as expect() does

    def pick_row(self, key: str, index: int) -> None:
        """Pick row ``index`` of the selectable table ``key`` (the mouse moves over the
        row first: a click alone does not select)."""
        canvas = self.page.locator(f"{self.key(key)} canvas[data-testid='data-grid-canvas']")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box is not None, f"table {key} is not drawn"
        x, y = box["x"] + MARKER_X, box["y"] + HEADER_PX + ROW_PX * index + ROW_PX / 2
        self.page.mouse.move(x - 4, y)
        self.page.mouse.move(x, y)
        self.page.mouse.click(x, y)
        self.settle()

    def click_mark(self, key: str, index: int) -> None:
        """Click mark ``index`` of the Plotly chart ``key`` at its coordinates."""
        mark = self.page.locator(f"{self.key(key)} .scatterlayer path.point").nth(index)
        mark.scroll_into_view_if_needed()
        box = mark.bounding_box()
        assert box is not None, f"mark {index} of {key} is not drawn"
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self.page.mouse.move(x - 5, y - 5)
        self.page.mouse.move(x, y)
        self.page.mouse.click(x, y)
        self.settle()

    def texts(self, selector: str) -> list[str]:
        """The inner texts of every element matching ``selector``."""
        return [t.strip() for t in self.page.locator(selector).all_inner_texts()]

    def shoot(self, path: Path, anchor: str | None = None) -> None:
        """A screenshot of the viewport into ``path``, scrolled to ``anchor`` first (a
        selector; None: the top of the page)."""
        if anchor is None:
            self.page.evaluate("window.scrollTo(0, 0)")
            self.page.locator('[data-testid="stMain"]').evaluate("m => m.scrollTo(0, 0)")
        else:
            self.page.locator(anchor).first.evaluate(
                """(e, below) => {
                    e.scrollIntoView({block: 'start'});
                    document.querySelector('[data-testid="stMain"]').scrollBy(0, -below);
                }""",
                HEADER_BAR_PX,
            )
        self.page.mouse.move(VIEWPORT["width"] - 200, 20)  # over nothing that reacts
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=path)


def _exactly(text: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def context_options() -> dict[str, Any]:
    """The browser context of every test page: the viewport, Seoul's zone, Korean."""
    return {"viewport": VIEWPORT, "timezone_id": "Asia/Seoul", "locale": "ko-KR"}
