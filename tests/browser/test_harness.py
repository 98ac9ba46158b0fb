"""The browser harness itself: Chromium reaches a real `acd serve`, the relay keeps what the
browser sent, and a console error is caught (so the fixture's check can fail a test)."""

from __future__ import annotations

import json

import pytest

from .chrome import Browser
from .harness import LiveAcd

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-harness")]


def test_chromium_loads_a_page_of_the_live_controller(chrome: Browser, live_acd: LiveAcd) -> None:
    chrome.allow(r"/favicon\.ico - Failed to load resource")  # a JSON document has no icon
    chrome.open(live_acd.url("/healthz"))
    body = chrome.js("return document.body.innerText")
    assert json.loads(body) == {"status": "ok"}
    assert "GET /healthz" in live_acd.access_log.requests()
    assert live_acd.api("GET", "/readyz", role="").status == 200


def test_every_role_token_reads_and_only_its_role_writes(live_acd: LiveAcd) -> None:
    assert set(live_acd.tokens) == {"admin", "supervisor", "agent", "reader"}
    for role in live_acd.tokens:
        assert live_acd.api("GET", "/stats/queues", role=role).status == 200, role
    assert live_acd.api("GET", "/tokens", role="reader").status == 403


def test_a_severe_console_error_is_caught(chrome: Browser) -> None:
    chrome.open("data:text/html,<script>console.error('harness-check')</script>")
    assert any("harness-check" in line for line in chrome.severe())
    chrome.allow("harness-check")
    assert chrome.severe() == []
