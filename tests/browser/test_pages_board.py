"""The pages' own behaviour in a real Chromium against a real `acd serve` on the real Asterisk:
the layouts of a phone (360 px: stacked, nothing sideways) and of a wall (1920x1080: tiles side
by side in large type, all on one screen); clocks that tick on the server's time between
refetches even when the browser's clock is wrong; a token revoked while the page is open
brings the token form back; a tile raises its alert for a caller waiting past the threshold,
then for the lost call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from acd.asterisk.testing import RunningAsterisk

from .chrome import Browser
from .harness import BACKOFFICE_AGENT, QUEUES, LiveAcd, running_live_acd, wait_until
from .pages import open_page, updated, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-pages")]

SUPPORT_THRESHOLD = next(q["sl_threshold"] for q in QUEUES if q["name"] == "support")


@pytest.fixture(scope="module")
def live_acd(
    asterisk: RunningAsterisk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveAcd]:
    """Nobody logged in: a support caller waits (the alert test); a test logs in whom it needs."""
    with running_live_acd(asterisk, tmp_path_factory.mktemp("live-acd"), logged_in=()) as live:
        yield live


def _viewport(chrome: Browser, width: int, height: int) -> None:
    chrome.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


_SIDEWAYS = """
const width = document.documentElement.clientWidth;
const out = [...document.querySelectorAll("body *")]
  .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
  .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${e.getBoundingClientRect().right}`);
return {scroll: document.documentElement.scrollWidth, width: width, out: out};
"""

_TILE_BOXES = """
return [...document.querySelectorAll("section.queue-tile")].map((t) => {
  const r = t.getBoundingClientRect();
  return {left: r.left, top: r.top, width: r.width, bottom: r.bottom};
});
"""


def _nothing_sideways(chrome: Browser) -> None:
    found = chrome.js(_SIDEWAYS)
    assert found["scroll"] <= found["width"], found
    assert found["out"] == [], found


def test_a_phone_gets_stacked_tiles_and_nothing_sideways(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    _viewport(chrome, 360, 740)
    open_page(chrome, live_acd, "supervisor")
    tiles: list[dict[str, Any]] = chrome.js(_TILE_BOXES)
    assert len(tiles) == 2
    assert tiles[0]["left"] == tiles[1]["left"]
    assert tiles[1]["top"] >= tiles[0]["bottom"]  # one under the other
    assert all(t["width"] >= 320 for t in tiles)
    # The supervisor's buttons are on the page and within it too.
    assert chrome.js("return document.querySelectorAll('button[data-action]').length") > 0
    _nothing_sideways(chrome)

    open_page(chrome, live_acd, "agent", "/agent")
    _nothing_sideways(chrome)


def test_a_wall_gets_the_tiles_side_by_side_in_large_type_on_one_screen(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    _viewport(chrome, 1920, 1080)
    open_page(chrome, live_acd, "reader")
    tiles: list[dict[str, Any]] = chrome.js(_TILE_BOXES)
    assert len(tiles) == 2
    assert tiles[0]["top"] == tiles[1]["top"]  # side by side
    assert all(t["width"] >= 600 for t in tiles)
    headline = chrome.js(
        "return parseFloat(getComputedStyle(document.querySelector("
        "  'section.queue-tile [data-kpi=waiting]')).fontSize)"
    )
    assert headline >= 48  # px: read from across a room
    assert chrome.js("return document.documentElement.scrollHeight") <= 1080
    _nothing_sideways(chrome)


def _seconds(text: str) -> int:
    minutes, _, seconds = text.lstrip("≥").partition(":")
    return int(minutes) * 60 + int(seconds)


def _time_in_state(chrome: Browser, agent_id: str) -> str:
    return str(
        chrome.js(
            "const c = document.querySelector("
            "  `tr[data-agent='${arguments[0]}'] td[data-col=time_in_state]`);"
            "return c === null ? '' : c.textContent.trim();",
            agent_id,
        )
    )


def test_clocks_tick_between_refetches_on_the_servers_time(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    agent = BACKOFFICE_AGENT
    open_page(chrome, live_acd, "reader")
    # The browser's clock an hour slow: the page must go by the server's Date headers.
    chrome.js(
        "const real = Date.now.bind(Date);"
        "window.realNow = real;"
        "Date.now = () => real() - 3600 * 1000;"
    )
    refetches = updated(chrome)
    assert live_acd.api("POST", f"/agents/{agent}/login").status == 200
    try:
        chrome.wait(lambda: updated(chrome) > refetches, what="the login refetched")
        chrome.wait(
            lambda: chrome.attribute(f"tr[data-agent='{agent}']", "data-state") == "available",
            what="row available",
        )
        offset = chrome.js("return ACD.serverNow() * 1000 - window.realNow()")
        assert abs(offset) < 1500, offset  # ms: the hour is corrected
        quiet = updated(chrome)
        first = _seconds(_time_in_state(chrome, agent))
        chrome.wait(
            lambda: _seconds(_time_in_state(chrome, agent)) >= first + 2,
            within=5,
            what="time in state ticking",
        )
        assert updated(chrome) == quiet  # ticked on the client, nothing refetched
        assert _seconds(_time_in_state(chrome, agent)) < 10  # counted from the login
    finally:
        live_acd.api("POST", f"/agents/{agent}/logout")


def test_a_token_revoked_while_open_brings_the_token_form_back(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    chrome.allow(r"status of 401")  # the refused requests, as Chromium logs them
    reply = live_acd.api("POST", "/tokens", {"name": "pages-revoked", "role": "reader"})
    assert reply.status == 201, reply
    chrome.open("about:blank")
    chrome.open(live_acd.url("/#token=" + reply.body["token"]))
    wait_live(chrome)

    assert live_acd.api("DELETE", "/tokens/pages-revoked").status == 204
    # The stream checks its token again every 10 s, ends, and the reconnect is refused.
    chrome.wait(
        lambda: chrome.attribute("form#token-form", "hidden") is None,
        within=25,
        what="the token form shown again",
    )
    assert chrome.js("return document.getElementById('token-error').textContent.trim()")
    assert chrome.js("return sessionStorage.getItem('acd.token')") is None
    assert chrome.attribute("main#board", "hidden") is not None


def _alert(chrome: Browser, queue: str) -> tuple[bool, str | None]:
    css = f"section.queue-tile[data-queue='{queue}']"
    has_class = bool(
        chrome.js(f'return document.querySelector("{css}").classList.contains("alert")')
    )
    return has_class, chrome.attribute(css, "data-alert")


def test_a_tile_alerts_for_a_long_wait_then_for_the_lost_call(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    open_page(chrome, live_acd, "reader")
    assert _alert(chrome, "support") == (False, None)
    lost_before = live_acd.stats()["support"]["today"]["abandoned"]

    live_acd.call("support", hold=120)  # nobody logged in: it waits
    chrome.wait(
        lambda: _alert(chrome, "support") == (True, "wait"),
        within=SUPPORT_THRESHOLD + 8,
        what="the wait alert",
    )
    level = chrome.js(
        'return document.querySelector("section[data-queue=support] [data-kpi=oldest_wait]")'
        ".parentElement.dataset.level"
    )
    assert level == "bad"
    assert _alert(chrome, "sales") == (False, None)

    live_acd.hang_up_everyone()
    wait_until(
        lambda: live_acd.stats()["support"]["today"]["abandoned"] == lost_before + 1,
        what="the call lost",
    )
    # Lost after the threshold: the service level (abandons against) drops to 0 %, below the
    # target, which is the first alert that applies; the lost count is flagged too.
    chrome.wait(lambda: _alert(chrome, "support") == (True, "sl"), what="the SL alert")
    lost_level = chrome.js(
        'return document.querySelector("section[data-queue=support] [data-kpi=lost_today]")'
        ".parentElement.dataset.level"
    )
    assert lost_level == "bad"
