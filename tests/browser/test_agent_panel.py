"""The agent panel (`/agent`) in a real Chromium against a real `acd serve` on the real
Asterisk: the agent logs in, pauses with a reason from its queues' list, comes back and logs
out, each click checked in the API's state; free text when its queues offer no reasons; a
live call's panel with the caller's data, and ending wrap-up early."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from acd.asterisk.testing import RunningAsterisk

from .chrome import Browser
from .harness import (
    BACKOFFICE_AGENT,
    PANEL_AGENT,
    QUEUES,
    LiveAcd,
    running_live_acd,
    wait_until,
)
from .pages import open_page

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-agent-panel")]

#: Support's wrap-up is long here, so the panel's Done button is what ends it.
WRAP_UP = 120
PANEL_QUEUES = [{**q, "wrap_up": WRAP_UP} if q["name"] == "support" else dict(q) for q in QUEUES]


@pytest.fixture(scope="module")
def live_acd(
    asterisk: RunningAsterisk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveAcd]:
    """Nobody but the panel's agent logs in: a support call can only reach it."""
    with running_live_acd(
        asterisk, tmp_path_factory.mktemp("live-acd"), queues=PANEL_QUEUES, logged_in=()
    ) as live:
        yield live


def _shown_state(chrome: Browser) -> str | None:
    return chrome.attribute("#agent-state", "data-state")


def _click(chrome: Browser, css: str) -> None:
    chrome.driver.find_element(By.CSS_SELECTOR, css).click()


def _visible(chrome: Browser, css: str) -> bool:
    return bool(
        chrome.js(
            "const e = document.querySelector(arguments[0]);"
            "return e !== null && !e.hidden && e.getClientRects().length > 0;",
            css,
        )
    )


def _state_becomes(chrome: Browser, live: LiveAcd, agent_id: str, state: str) -> dict[str, object]:
    """The API's state of the agent reaches `state`, and then the panel shows it too."""
    document = wait_until(
        lambda: (d := live.agent(agent_id))["state"] == state and d, what=f"API {state}"
    )
    chrome.wait(lambda: _shown_state(chrome) == state, what=f"panel shows {state}")
    return document


def test_the_agent_logs_in_pauses_with_a_reason_and_comes_back(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    agent = PANEL_AGENT
    open_page(chrome, live_acd, "agent", "/agent")
    chrome.wait(lambda: _shown_state(chrome) == "logged_out", what="panel shows logged out")

    _click(chrome, "button#ready")
    _state_becomes(chrome, live_acd, agent, "available")

    # Its one queue (support) offers Lunch and Training: label shown, code sent.
    reason = Select(chrome.driver.find_element(By.CSS_SELECTOR, "select#reason"))
    offered = {(o.get_attribute("value"), o.text.strip()) for o in reason.options}
    assert offered == {("lunch", "Lunch"), ("training", "Training")}
    reason.select_by_value("training")
    _click(chrome, "button#pause")
    paused = _state_becomes(chrome, live_acd, agent, "paused")
    assert paused["pause_reason"] == "training"
    chrome.wait(
        lambda: (
            "Training" in chrome.js("return document.querySelector('#pause-reason').textContent")
        ),
        what="the reason's label shown",
    )

    _click(chrome, "button#ready")
    back = _state_becomes(chrome, live_acd, agent, "available")
    assert back["pause_reason"] is None

    _click(chrome, "button#logout")
    _state_becomes(chrome, live_acd, agent, "logged_out")


def test_free_text_when_the_queues_offer_no_reasons(chrome: Browser, live_acd: LiveAcd) -> None:
    agent = BACKOFFICE_AGENT  # serves no queue: no list of reasons to offer
    open_page(chrome, live_acd, "admin", "/agent", f"&agent={agent}")
    chrome.wait(lambda: _shown_state(chrome) == "logged_out", what="panel shows logged out")
    try:
        _click(chrome, "button#ready")
        _state_becomes(chrome, live_acd, agent, "available")
        assert not _visible(chrome, "select#reason")
        chrome.driver.find_element(By.CSS_SELECTOR, "input#reason-text").send_keys("dentist")
        _click(chrome, "button#pause")
        assert _state_becomes(chrome, live_acd, agent, "paused")["pause_reason"] == "dentist"
        _click(chrome, "button#ready")
        _state_becomes(chrome, live_acd, agent, "available")
    finally:
        live_acd.api("POST", f"/agents/{agent}/logout")


def test_a_call_shows_its_caller_data_and_done_ends_wrap_up(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    agent = PANEL_AGENT
    assert live_acd.api("POST", f"/agents/{agent}/login").status == 200
    try:
        open_page(chrome, live_acd, "agent", "/agent")
        chrome.wait(lambda: _shown_state(chrome) == "available", what="panel shows available")
        assert not _visible(chrome, "#call")

        live_acd.call("support", talk=6, variables={"ACD_CALLER_DATA": "order 4711"})
        _state_becomes(chrome, live_acd, agent, "busy")
        chrome.wait(lambda: _visible(chrome, "#call"), what="the call's panel shown")
        assert chrome.js("return document.querySelector('#call-queue').textContent.trim()") == (
            "support"
        )
        assert "order 4711" in chrome.js(
            "return document.querySelector('#caller-data').textContent"
        )

        _state_becomes(chrome, live_acd, agent, "wrap_up")
        chrome.wait(lambda: _visible(chrome, "button#done"), what="Done shown in wrap-up")
        _click(chrome, "button#done")
        _state_becomes(chrome, live_acd, agent, "available")
        chrome.wait(lambda: not _visible(chrome, "button#done"), what="Done hidden again")
    finally:
        live_acd.api("POST", f"/agents/{agent}/logout")


def test_the_agent_transfers_a_call_and_the_next_agent_sees_the_note(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    agent, specialist = PANEL_AGENT, "2201"  # support 1; sales 4
    for who in (agent, specialist):
        assert live_acd.api("POST", f"/agents/{who}/login").status == 200
    try:
        open_page(chrome, live_acd, "agent", "/agent")
        live_acd.call("support", talk=60, variables={"ACD_CALLER_DATA": "order 99"})
        _state_becomes(chrome, live_acd, agent, "busy")
        chrome.wait(lambda: _visible(chrome, "#transfer-form"), what="the transfer form shown")
        call_id = next(
            c["id"] for c in live_acd.api("GET", "/calls").body if c["agent_id"] == agent
        )
        Select(
            chrome.driver.find_element(By.CSS_SELECTOR, "select#transfer-queue")
        ).select_by_value("sales")
        chrome.driver.find_element(By.CSS_SELECTOR, "textarea#transfer-note").send_keys(
            "asks for a discount"
        )
        _click(chrome, "button#transfer")

        # The caller goes on to the sales specialist; the panel's agent wraps up.
        call = wait_until(
            lambda: (
                (c := live_acd.api("GET", f"/calls/{call_id}").body)["agent_id"] == specialist
                and c["state"] == "connected"
                and c
            ),
            what="the specialist talking to the caller",
        )
        assert call["queue"] == "sales"
        _state_becomes(chrome, live_acd, agent, "wrap_up")
        chrome.wait(lambda: not _visible(chrome, "#transfer-form"), what="no form in wrap-up")

        # The specialist's panel shows the caller's data and the note.
        open_page(chrome, live_acd, "admin", "/agent", f"&agent={specialist}")
        chrome.wait(lambda: _visible(chrome, "#transfer-note-shown"), what="the note shown")
        shown = chrome.js("return document.querySelector('#transfer-note-shown').textContent")
        assert shown == "asks for a discount"
        assert "order 99" in chrome.js("return document.querySelector('#caller-data').textContent")
    finally:
        live_acd.hang_up_everyone()
        for who in (agent, specialist):
            live_acd.api("POST", f"/agents/{who}/end_wrap_up")  # support's is 120 s here
            live_acd.api("POST", f"/agents/{who}/logout")
