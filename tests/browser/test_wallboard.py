"""The wallboard (`/`) in a real Chromium against a real `acd serve` on the real Asterisk:
its tiles show what /api/v1/stats/queues says while calls flow, a kiosk address carries the
token without leaking it, a bad token brings the token form, and only a supervisor gets the
force-pause and force-logout buttons."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from .chrome import Browser
from .harness import BACKOFFICE_AGENT, LiveAcd, wait_until
from .pages import (
    agreement,
    data_values,
    differences,
    open_page,
    read_board,
    updated,
    wait_live,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-wallboard")]

#: How long callers stream in during the agreement test, and how often it compares.
STREAM_SECONDS = 14.0
SAMPLE_EVERY = 1.0


def _all_calls_over(live: LiveAcd) -> bool:
    stats = live.stats().values()
    return all(s["waiting"] == 0 and s["ringing"] == 0 and s["connected"] == 0 for s in stats)


def test_the_tiles_show_the_api_numbers_while_calls_flow(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    open_page(chrome, live_acd, "reader")
    first, first_stats = agreement(chrome, live_acd)
    offered_before = {q: s["today"]["offered"] for q, s in first_stats.items()}
    samples = [data_values(first)]
    answers = [first_stats]
    refetches = updated(chrome)

    # Agents ring a second before they answer: the agreed moments include agents reserved
    # (ringing) and callers waiting, not only a board at rest.
    with live_acd.calls(every=1.0, talk=3, ring=1) as stream:
        ends = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < ends:
            board, stats = agreement(chrome, live_acd)
            samples.append(data_values(board))
            answers.append(stats)
            time.sleep(SAMPLE_EVERY)
    callers = len(stream.callers)
    wait_until(lambda: _all_calls_over(live_acd), within=20, what="every streamed call over")
    last, last_stats = agreement(chrome, live_acd)
    samples.append(data_values(last))

    # Calls really flowed: every caller was offered and answered, and the page refetched.
    assert callers >= 10
    offered = sum(s["today"]["offered"] - offered_before[q] for q, s in last_stats.items())
    assert offered == callers
    answered = sum(s["today"]["answered"] for s in last_stats.values())
    assert answered - sum(s["today"]["answered"] for s in first_stats.values()) == callers
    assert updated(chrome) > refetches + callers
    # The numbers moved while they were compared (not one quiet board compared again and
    # again), and comparing the first answer with the last board finds the difference.
    distinct = {repr(sorted((q, sorted(v.items())) for q, v in s.items())) for s in samples}
    assert len(distinct) >= 4, samples
    seen = [entry for stats in answers for entry in stats.values()]
    assert any(e["agents"]["reserved"] > 0 for e in seen), "never agreed while an agent rang"
    assert any(e["agents"]["busy"] > 0 for e in seen), "never agreed while an agent talked"
    assert any(e["waiting"] > 0 for e in seen), "never agreed while a caller waited"
    stale = differences(last, first_stats)
    assert any(".offered_today" in d for d in stale), stale
    assert any(".answered_today" in d for d in stale), stale

    # The text shown agrees with data-value: counts as they are, ratios in percent.
    tiles = read_board(chrome)["tiles"]
    for name, entry in last_stats.items():
        kpis = tiles[name]
        assert kpis["offered_today"]["text"] == str(entry["today"]["offered"])
        assert kpis["sl_target"]["text"] == f"{round(entry['sl_target'] * 100)}%"
        level = entry["service_level"]["abandons_against"]
        assert kpis["sl_abandons_against"]["text"] == f"{round(level * 100)}%"


def test_a_kiosk_address_carries_the_token_and_leaves_no_trace(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    reader = live_acd.tokens["reader"]
    log_before = len(live_acd.serve_log())
    open_page(chrome, live_acd, "reader")
    assert reader not in chrome.driver.current_url
    assert chrome.js("return location.hash") == ""
    assert chrome.js("return sessionStorage.getItem('acd.token')") == reader
    assert set(read_board(chrome)["tiles"]) == {"support", "sales"}
    # A reload keeps working without the fragment (the token is in sessionStorage).
    chrome.driver.refresh()
    wait_live(chrome)
    assert chrome.attribute("#token-form", "hidden") is not None

    requests = live_acd.access_log.requests()
    assert any(line.startswith("GET /api/v1/stats/queues") for line in requests), requests
    assert [line for line in requests if reader in line] == []
    assert live_acd.access_log.outside_authorization(reader) == []
    assert reader not in live_acd.serve_log()[log_before:]


def test_a_bad_token_brings_the_token_form(chrome: Browser, live_acd: LiveAcd) -> None:
    chrome.allow(r"status of 401")  # the refused requests, as Chromium logs them
    chrome.open(live_acd.url("/#token=not-a-token-of-this-controller"))
    chrome.wait(
        lambda: chrome.attribute("form#token-form", "hidden") is None,
        what="the token form shown",
    )
    assert chrome.js("return document.getElementById('token-error').textContent.trim()")
    assert chrome.js("return sessionStorage.getItem('acd.token')") in (None, "")
    assert chrome.js("return location.hash") == ""

    # The form takes a good token and the board goes live.
    field = chrome.driver.find_element(By.CSS_SELECTOR, "form#token-form input#token-input")
    field.send_keys(live_acd.tokens["reader"])
    chrome.driver.find_element(By.CSS_SELECTOR, "form#token-form button[type=submit]").click()
    wait_live(chrome)
    assert set(read_board(chrome)["tiles"]) == {"support", "sales"}


def _row_buttons(chrome: Browser, agent_id: str) -> list[str]:
    return list(
        chrome.js(
            "const row = document.querySelector("
            "  `table#agents tbody tr[data-agent='${arguments[0]}']`);"
            "return row === null ? null"
            " : [...row.querySelectorAll('button[data-action]')].map(b => b.dataset.action);",
            agent_id,
        )
        or []
    )


def _click(chrome: Browser, agent_id: str, action: str) -> None:
    chrome.driver.find_element(
        By.CSS_SELECTOR,
        f"table#agents tbody tr[data-agent='{agent_id}'] button[data-action='{action}']",
    ).click()


def _row_state(chrome: Browser, agent_id: str) -> str | None:
    return chrome.attribute(f"table#agents tbody tr[data-agent='{agent_id}']", "data-state")


def test_a_supervisor_forces_a_pause_and_a_logout_and_a_reader_cannot(
    chrome: Browser, live_acd: LiveAcd
) -> None:
    agent = BACKOFFICE_AGENT
    assert live_acd.api("POST", f"/agents/{agent}/login").status == 200
    try:
        open_page(chrome, live_acd, "supervisor")
        chrome.wait(lambda: _row_state(chrome, agent) == "available", what="row available")
        assert set(_row_buttons(chrome, agent)) == {"pause", "logout", "listen", "whisper", "barge"}

        _click(chrome, agent, "pause")
        wait_until(lambda: live_acd.agent(agent)["state"] == "paused", what="agent paused")
        assert live_acd.agent(agent)["pause_reason"] == "supervisor"
        chrome.wait(lambda: _row_state(chrome, agent) == "paused", what="row paused")

        _click(chrome, agent, "logout")
        wait_until(lambda: live_acd.agent(agent)["state"] == "logged_out", what="logged out")
        chrome.wait(lambda: _row_state(chrome, agent) == "logged_out", what="row logged out")

        assert live_acd.api("POST", f"/agents/{agent}/login").status == 200
        open_page(chrome, live_acd, "reader")
        chrome.wait(lambda: _row_state(chrome, agent) == "available", what="reader's row")
        agents = live_acd.api("GET", "/agents").body
        rows = chrome.js("return document.querySelectorAll('table#agents tbody tr').length")
        assert rows == len(agents)
        assert chrome.js("return document.querySelectorAll('button[data-action]').length") == 0
    finally:
        live_acd.api("POST", f"/agents/{agent}/logout")
