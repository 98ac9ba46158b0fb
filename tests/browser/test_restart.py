"""The wallboard across a restart of the controller, in a real Chromium against a real
`acd serve` on the real Asterisk: the process is killed (SIGKILL, and stopped with SIGTERM),
the page says the stream is down, and once `acd serve` is back on the same ports it is live
again by itself — no reload — and shows the numbers of calls made after the restart."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from acd.asterisk.testing import RunningAsterisk

from .chrome import Browser
from .harness import LiveAcd, running_live_acd, wait_until
from .pages import agreement, open_page, updated

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-restart")]

#: What Chromium logs for the requests refused or cut while no controller listens.
OUTAGE_ERRORS = (
    r"net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|CONNECTION_CLOSED|EMPTY_RESPONSE"
    r"|INCOMPLETE_CHUNKED_ENCODING)"
)


@pytest.fixture(scope="module")
def live_acd(
    asterisk: RunningAsterisk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveAcd]:
    """The browser connects to `acd serve` itself, not through the access-log relay: it must
    see the connection die with the process."""
    with running_live_acd(
        asterisk, tmp_path_factory.mktemp("live-acd"), through_relay=False
    ) as live:
        yield live


def _stream(chrome: Browser) -> str:
    return str(chrome.js("return document.body.dataset.stream"))


def _offered(stats: dict[str, dict[str, object]]) -> object:
    return stats["support"]["today"]["offered"]  # type: ignore[index]


def _one_call_shown(chrome: Browser, live: LiveAcd, offered_before: int) -> None:
    """A support call (it talks 1 s) is offered, and the tiles agree with the API on it. The
    call is over and stored before this returns: a SIGKILL loses what the controller had not
    written yet (up to 0.25 s of it), and a call that also ends while no controller runs
    would then be missing from today's numbers after the restart."""
    caller = live.call("support", talk=1)
    wait_until(lambda: _offered(live.stats()) == offered_before + 1, what="call offered")
    assert live.finished(caller.call_id)["outcome"] == "answered"
    board, stats = agreement(chrome, live)
    assert board["tiles"]["support"]["offered_today"]["value"] == str(offered_before + 1)
    assert _offered(stats) == offered_before + 1


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_the_board_comes_back_live_after_a_restart(
    chrome: Browser, live_acd: LiveAcd, sig: signal.Signals
) -> None:
    chrome.allow(OUTAGE_ERRORS)
    open_page(chrome, live_acd, "reader")
    offered = int(str(_offered(live_acd.stats())))
    _one_call_shown(chrome, live_acd, offered)
    chrome.js("window.browserTestLoad = 'before the restart'")  # gone if the page reloads

    live_acd.stop(sig)
    chrome.wait(lambda: _stream(chrome) == "down", within=10, what="stream down")
    before_restart = updated(chrome)
    live_acd.start_again()
    chrome.wait(lambda: _stream(chrome) == "live", within=15, what="stream live again")
    assert chrome.js("return window.browserTestLoad") == "before the restart"
    assert updated(chrome) > before_restart  # everything refetched on reconnect

    # Today's numbers survived the restart and the new call shows up.
    _one_call_shown(chrome, live_acd, offered + 1)
