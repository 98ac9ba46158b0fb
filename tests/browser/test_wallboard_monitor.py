"""The wallboard's Listen / Whisper / Barge buttons in a real Chromium against a real
`acd serve` on the real Asterisk: a supervisor types its phone once (kept for the session),
clicks Whisper on an agent who is on a call, and the API keeps the request in its audit log
(GET /monitor_log) with the supervisor's token, the mode and that phone, which Asterisk then
calls (a simulated phone here, which answers: result `answered`). The buttons are there only
for supervisors and only live while the agent is on a call."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By

from .chrome import Browser
from .harness import LiveAcd, wait_until
from .pages import open_page

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-wallboard-monitor")]

#: The supervisor's phone: a simulated one (acd-sim-caller answers at once and stays on).
SUPERVISOR_PHONE = "Local/15551230003@acd-sim-caller"
MONITOR_BUTTONS = ("listen", "whisper", "barge")


def _row(agent_id: str) -> str:
    return f"table#agents tbody tr[data-agent='{agent_id}']"


def _enabled_monitor_buttons(chrome: Browser, agent_id: str) -> list[str]:
    return list(
        chrome.js(
            "const row = document.querySelector(arguments[0]);"
            "return row === null ? [] : [...row.querySelectorAll('button[data-monitor]')]"
            "  .filter(b => !b.disabled).map(b => b.dataset.action);",
            _row(agent_id),
        )
        or []
    )


def _talking_agent(live: LiveAcd) -> str | None:
    agents = live.api("GET", "/agents").body
    return next((a["id"] for a in agents if a["state"] == "busy"), None)


def _log(live: LiveAcd) -> list[dict[str, Any]]:
    reply = live.api("GET", "/monitor_log")
    assert reply.status == 200, reply
    return list(reply.body)


def test_a_supervisor_whispers_from_the_wallboard_and_the_audit_log_has_it(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    open_page(chrome, live_acd, "supervisor")
    assert chrome.attribute("form#monitor-form", "hidden") is None
    idle = "2101"
    chrome.wait(lambda: chrome.attribute(_row(idle), "data-state") == "available", what="row")
    assert _enabled_monitor_buttons(chrome, idle) == []  # not on a call

    live_acd.call("support", talk=60)
    try:
        wait_until(lambda: _talking_agent(live_acd) is not None, what="an agent on the call")
        agent = _talking_agent(live_acd)
        assert agent is not None
        chrome.wait(
            lambda: _enabled_monitor_buttons(chrome, agent) == list(MONITOR_BUTTONS),
            what="the monitor buttons live on the talking agent's row",
        )

        # Without a phone the page asks for one and sends nothing.
        whisper = f"{_row(agent)} button[data-action='whisper']"
        chrome.driver.find_element(By.CSS_SELECTOR, whisper).click()
        notice = "return document.getElementById('action-error').textContent"
        chrome.wait(lambda: "phone" in chrome.js(notice), what="asked for the phone")
        assert _log(live_acd) == []

        field = chrome.driver.find_element(By.CSS_SELECTOR, "input#monitor-contact")
        field.send_keys(SUPERVISOR_PHONE)
        chrome.driver.find_element(By.CSS_SELECTOR, whisper).click()
        wait_until(lambda: len(_log(live_acd)) == 1, what="the audit entry")
        (entry,) = _log(live_acd)
        assert (entry["token"], entry["role"]) == ("browser-supervisor", "supervisor")
        assert (entry["agent_id"], entry["mode"], entry["contact"]) == (
            agent,
            "whisper",
            SUPERVISOR_PHONE,
        )
        assert entry["call_id"] == live_acd.agent(agent)["call_id"]
        wait_until(lambda: _log(live_acd)[0]["result"] == "answered", what="phone answered")
        stored = chrome.js("return sessionStorage.getItem('acd.monitorContact')")
        assert stored == SUPERVISOR_PHONE

        # A reader gets neither the phone field nor a button.
        open_page(chrome, live_acd, "reader")
        assert chrome.attribute("form#monitor-form", "hidden") is not None
        assert chrome.js("return document.querySelectorAll('button[data-monitor]').length") == 0
    finally:
        live_acd.hang_up_everyone()
