"""A kiosk address `/#token=<token>` takes the token as the operator wrote it: a configured
token (ACD_API_TOKEN) may be any text, e.g. `openssl rand -base64` output with `+`, `/` and
`=`, and a `+` in the fragment is a plus, not a space (URLSearchParams' form decoding would
turn it into one and the token would be refused). A percent-encoded token works too."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from acd.asterisk.testing import RunningAsterisk

from .chrome import Browser
from .harness import LiveAcd, running_live_acd
from .pages import wait_live

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-kiosk-token")]

#: A base64-looking admin token: '+', '/' and '=' as `openssl rand -base64 24` gives them.
TOKEN = "Kio+sk/" + secrets.token_urlsafe(18) + "+x=="


@pytest.fixture(scope="module")
def live_acd(
    asterisk: RunningAsterisk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveAcd]:
    with running_live_acd(asterisk, tmp_path_factory.mktemp("live-acd"), admin_token=TOKEN) as live:
        yield live


@pytest.mark.parametrize("written", [TOKEN, quote(TOKEN, safe="")], ids=["raw", "encoded"])
def test_a_kiosk_token_with_plus_signs_opens_the_board(
    chrome: Browser, live_acd: LiveAcd, written: str
) -> None:
    chrome.open("about:blank")
    chrome.open(live_acd.url(f"/#token={written}"))
    wait_live(chrome)
    assert chrome.js("return sessionStorage.getItem('acd.token')") == TOKEN
    assert chrome.js("return location.hash") == ""
    assert chrome.attribute("#token-form", "hidden") is not None


def test_a_token_given_to_an_open_board_is_taken_and_leaves_the_address(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    """An operator types `/#token=<new>` on a board that is already open: the browser only
    changes the fragment (no reload), and the new token must still be taken and the fragment
    left off the screen."""
    chrome.open("about:blank")
    chrome.open(live_acd.url(f"/#token={quote(TOKEN, safe='')}"))
    wait_live(chrome)
    reader = live_acd.tokens["reader"]
    chrome.open(live_acd.url(f"/#token={reader}"))
    chrome.wait(
        lambda: chrome.js("return location.hash") == "", within=10, what="the fragment taken"
    )
    wait_live(chrome)
    assert chrome.js("return sessionStorage.getItem('acd.token')") == reader
