"""Time in state on a page opened after the state began: the wallboard's "In state" cell and
the agent panel's clock count from the agent document's `state_since`, not from the page's
load (which they could only show as a lower bound, "≥0:01"), in a real Chromium against a
real `acd serve` on the real Asterisk."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from acd.asterisk.testing import RunningAsterisk

from .chrome import Browser
from .harness import BACKOFFICE_AGENT, LiveAcd, running_live_acd
from .pages import open_page

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-time-in-state")]

#: How long the agent has been paused when the page opens.
PAUSED_FOR = 6.0
#: What a page shows for a time it does not know (common.js `duration`): an en dash.
NO_VALUE = "\u2013"


@pytest.fixture(scope="module")
def live_acd(
    asterisk: RunningAsterisk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveAcd]:
    with running_live_acd(asterisk, tmp_path_factory.mktemp("live-acd"), logged_in=()) as live:
        yield live


@pytest.fixture
def paused_a_while(live_acd: LiveAcd) -> Iterator[float]:
    """BACKOFFICE_AGENT paused `PAUSED_FOR` seconds ago (before any page opened); the
    monotonic moment of the pause. Logged out again afterwards."""
    agent = f"/agents/{BACKOFFICE_AGENT}"
    assert live_acd.api("POST", f"{agent}/login").status == 200
    assert live_acd.api("POST", f"{agent}/pause", {"reason": "lunch"}).status == 200
    paused = time.monotonic()
    time.sleep(PAUSED_FOR)
    try:
        yield paused
    finally:
        live_acd.api("POST", f"{agent}/logout")


def _seconds(text: str) -> int:
    """ "m:ss" or "h:mm:ss" as seconds; anything else fails the test with the text shown."""
    match = re.fullmatch(r"(?:(\d+):)?(\d+):(\d\d)", text)
    assert match is not None, f"not an exact time in state: {text!r}"
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _about(chrome: Browser, css: str, paused: float) -> tuple[int, float]:
    """The time shown in `css` (once filled in) and the time really paused then."""
    chrome.wait(lambda: (chrome.js(_TEXT, css) or NO_VALUE) != NO_VALUE, what=f"{css} filled in")
    text = chrome.js(_TEXT, css)
    return _seconds(text), time.monotonic() - paused


_TEXT = "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;"


def test_the_wallboard_counts_a_pause_from_when_it_began(
    chrome: Browser, live_acd: LiveAcd, paused_a_while: float
) -> None:
    open_page(chrome, live_acd, "reader")
    cell = f'tr[data-agent="{BACKOFFICE_AGENT}"] td[data-col="time_in_state"]'
    shown, real = _about(chrome, cell, paused_a_while)
    assert real - 2 <= shown <= real + 1, (shown, real)
    assert shown >= PAUSED_FOR - 1


def test_the_agent_panel_counts_a_pause_from_when_it_began(
    chrome: Browser, live_acd: LiveAcd, paused_a_while: float
) -> None:
    open_page(chrome, live_acd, "supervisor", "/agent", f"&agent={BACKOFFICE_AGENT}")
    shown, real = _about(chrome, "#time-in-state", paused_a_while)
    assert real - 2 <= shown <= real + 1, (shown, real)
    assert shown >= PAUSED_FOR - 1
