"""Debian's headless Chromium driven by Selenium through Debian's /usr/bin/chromedriver.

The driver's path is given to Selenium's Service, so Selenium Manager is never asked for a
driver or a browser (it would try to download them). Each browser gets a fresh profile
directory, a fixed window size and no background traffic of its own (no component updates,
sync, QUIC or first-run pages), so what it requests is only what the page asks for.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

T = TypeVar("T")

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1280, 900)

ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",  # tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
)


def missing() -> str | None:
    """Why Chromium cannot run here (None when it can)."""
    absent = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if absent:
        return f"{' and '.join(absent)} missing (`make chromium` installs them)"
    return None


def start_chrome(profile: Path, window: tuple[int, int] = WINDOW) -> WebDriver:
    """A headless Chromium with a fresh profile in `profile` (created), its JS console kept
    (every level) for `Browser.console`; chromedriver's log goes beside the profile."""
    profile.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ARGUMENTS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={window[0]},{window[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(
        executable_path=str(CHROMEDRIVER), log_output=str(profile.with_suffix(".driver.log"))
    )
    return webdriver.Chrome(service=service, options=options)


class Browser:
    """A started Chromium and what its JS console said.

    `severe()` lists the console's SEVERE entries (uncaught exceptions, console.error, a
    refused CSP, a failed request) that no `allow(pattern)` covers; the `chrome` fixture fails
    the test on any of them."""

    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver
        self.entries: list[dict[str, Any]] = []
        self._allowed: list[re.Pattern[str]] = []

    def open(self, url: str) -> None:
        self.driver.get(url)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def console(self) -> list[dict[str, Any]]:
        """Every console entry so far (Chromium hands each one over only once)."""
        self.entries.extend(self.driver.get_log("browser"))
        return self.entries

    def allow(self, pattern: str) -> None:
        """SEVERE console entries whose message matches `pattern` are expected (a request
        refused while the controller is down, a 401 for a bad token)."""
        self._allowed.append(re.compile(pattern))

    def severe(self) -> list[str]:
        return [
            f"{entry.get('source', '?')}: {entry['message']}"
            for entry in self.console()
            if entry.get("level") == "SEVERE"
            and not any(p.search(entry["message"]) for p in self._allowed)
        ]

    def wait(
        self,
        check: Callable[[], T | None],
        within: float = 10.0,
        what: str = "",
        every: float = 0.1,
    ) -> T:
        """Call `check` until it returns something truthy; that value (AssertionError with
        the last value and the console's errors otherwise)."""
        deadline = time.monotonic() + within
        while True:
            last = check()
            if last:
                return last
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not within {within} s: {what or check} (last: {last!r}); "
                    f"console errors: {self.severe()}"
                )
            time.sleep(every)

    def attribute(self, css: str, name: str) -> str | None:
        """Attribute `name` of the first element matching `css` (None: no element or no
        such attribute)."""
        value = self.js(
            "const e = document.querySelector(arguments[0]);"
            "return e === null ? null : e.getAttribute(arguments[1]);",
            css,
            name,
        )
        return None if value is None else str(value)

    def close(self) -> None:
        self.driver.quit()
