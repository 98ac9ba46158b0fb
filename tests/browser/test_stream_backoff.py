"""While the controller is away the page's retries of /events back off (0.5 s doubling to
5 s), so many open pages do not hammer a controller that is starting again; once it is back
the page is live again by itself."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from acd.asterisk.testing import RunningAsterisk

from .chrome import Browser
from .harness import LiveAcd, running_live_acd
from .pages import open_page
from .test_restart import OUTAGE_ERRORS

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-stream-backoff")]

#: Seconds watched while no controller listens: with the backoff 0.5, 1, 2, 4 s the page
#: tries at about 0, 0.5, 1.5, 3.5 and 7.5 s; retrying every 0.5 s it would try 18 times.
AWAY = 9.0

COUNT_STREAM_REQUESTS = """
window.streamRequests = 0;
const original = window.fetch;
window.fetch = (url, init) => {
  if (String(url).includes('/api/v1/events')) window.streamRequests += 1;
  return original(url, init);
};
"""


@pytest.fixture(scope="module")
def live_acd(
    asterisk: RunningAsterisk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveAcd]:
    with running_live_acd(
        asterisk, tmp_path_factory.mktemp("live-acd"), through_relay=False
    ) as live:
        yield live


def test_the_stream_retries_back_off_while_the_controller_is_away(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    chrome.allow(OUTAGE_ERRORS)
    open_page(chrome, live_acd, "reader")
    time.sleep(11)  # the stream has been up a while (> 10 s): the backoff starts afresh
    chrome.js(COUNT_STREAM_REQUESTS)
    live_acd.stop(signal.SIGKILL)
    time.sleep(AWAY)
    tries = int(chrome.js("return window.streamRequests"))
    live_acd.start_again()
    chrome.wait(
        lambda: chrome.js("return document.body.dataset.stream") == "live",
        within=20,
        what="stream live again",
    )
    assert 2 <= tries <= 6, f"{tries} stream requests in {AWAY} s without a controller"
