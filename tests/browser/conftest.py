"""Fixtures of the browser tests: `chrome`, a headless Chromium with a fresh profile that fails
its test on a severe console error, and `live_acd`, a real `acd serve` on the worker's real
Asterisk with the test configuration (tests/browser/harness.py), one per test module.

Without Chromium (`make chromium` installs Debian's chromium and chromium-driver) the tests
fail under CI=true and are skipped with the reason elsewhere, as the Asterisk tests are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from unavailable import unavailable

from acd.asterisk.testing import RunningAsterisk

from .chrome import Browser, missing, start_chrome
from .harness import LiveAcd, running_live_acd


@pytest.fixture
def chrome(tmp_path: Path) -> Iterator[Browser]:
    """A headless Chromium (1280x900) with a fresh profile. After the test, every SEVERE JS
    console entry the test did not `allow` fails it."""
    reason = missing()
    if reason is not None:
        unavailable(f"Chromium is not available: {reason}")
    browser = Browser(start_chrome(tmp_path / "chromium-profile"))
    try:
        yield browser
        errors = browser.severe()
    finally:
        browser.close()
    assert not errors, f"severe JS console entries: {errors}"


@pytest.fixture(scope="module")
def live_acd(
    asterisk: RunningAsterisk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveAcd]:
    """`acd serve` for the whole module, served to the browser through the access-log relay;
    its tests leave the agents as they found them."""
    with running_live_acd(asterisk, tmp_path_factory.mktemp("live-acd")) as live:
        yield live
