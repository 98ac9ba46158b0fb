"""Reading the pages' DOM hooks (the pages' contract of issue #13: `section.queue-tile`,
`[data-kpi]` with `data-value`, `body[data-stream]`, `body[data-updated]`) and what they should
say according to GET /api/v1/stats/queues."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from .chrome import Browser
from .harness import LiveAcd

#: One JS turn reads every tile, so a snapshot never mixes two refetches.
_READ_BOARD = """
const tiles = {};
for (const tile of document.querySelectorAll("section.queue-tile[data-queue]")) {
  const kpis = {};
  for (const e of tile.querySelectorAll("[data-kpi]")) {
    kpis[e.dataset.kpi] = {value: e.getAttribute("data-value"), text: e.textContent.trim()};
  }
  tiles[tile.dataset.queue] = kpis;
}
return {updated: document.body.dataset.updated || "", stream: document.body.dataset.stream || "",
        tiles: tiles};
"""

#: kpi → its number in a /stats/queues entry, compared exactly (counts).
COUNTS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "waiting": lambda s: s["waiting"],
    "lost_today": lambda s: s["today"]["abandoned"],
    "short_abandons_today": lambda s: s["today"]["short_abandoned"],
    "answered_today": lambda s: s["today"]["answered"],
    "offered_today": lambda s: s["today"]["offered"],
    "agents_available": lambda s: s["agents"]["available"],
    "agents_busy": lambda s: s["agents"]["busy"] + s["agents"]["reserved"],
    "agents_wrap_up": lambda s: s["agents"]["wrap_up"],
    "agents_paused": lambda s: s["agents"]["paused"],
    "agents_logged_out": lambda s: s["agents"]["logged_out"],
}
#: kpi → its number, compared as a float (ratios and seconds; None shows as "").
RATIOS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "sl_ignore_abandons": lambda s: s["service_level"]["ignore_abandons"],
    "sl_abandons_against": lambda s: s["service_level"]["abandons_against"],
    "sl_abandons_for": lambda s: s["service_level"]["abandons_for"],
    "sl_target": lambda s: s["sl_target"],
    "asa": lambda s: s["today"]["asa"],
}
#: Shown but not compared: it grows every second on the client between refetches.
TICKING = ("oldest_wait",)
KPIS = (*COUNTS, *RATIOS, *TICKING)

Board = dict[str, Any]


def read_board(chrome: Browser) -> Board:
    return dict(chrome.js(_READ_BOARD))


def data_values(board: Board) -> dict[str, dict[str, str | None]]:
    """queue → kpi → data-value, the ticking ones left out."""
    return {
        name: {kpi: cell["value"] for kpi, cell in kpis.items() if kpi not in TICKING}
        for name, kpis in board["tiles"].items()
    }


def differences(board: Board, stats: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Where the tiles' data-values disagree with the API's entries (empty: they agree)."""
    found: list[str] = []
    tiles = board["tiles"]
    if set(tiles) != set(stats):
        return [f"tiles {sorted(tiles)} != queues {sorted(stats)}"]
    for name, entry in stats.items():
        kpis = tiles[name]
        missing = [kpi for kpi in KPIS if kpi not in kpis]
        if missing:
            found.append(f"{name}: no [data-kpi] for {missing}")
            continue
        for kpi, of in COUNTS.items():
            if kpis[kpi]["value"] != str(of(entry)):
                found.append(f"{name}.{kpi}: page {kpis[kpi]['value']!r}, API {of(entry)!r}")
        for kpi, of in RATIOS.items():
            if not same_number(kpis[kpi]["value"], of(entry)):
                found.append(f"{name}.{kpi}: page {kpis[kpi]['value']!r}, API {of(entry)!r}")
    return found


def same_number(shown: str | None, value: float | None) -> bool:
    if value is None:
        return shown == ""
    if not shown:
        return False
    try:
        return math.isclose(float(shown), value, rel_tol=1e-9, abs_tol=1e-9)
    except ValueError:
        return False


def agreement(
    chrome: Browser, live: LiveAcd, within: float = 6.0
) -> tuple[Board, dict[str, dict[str, Any]]]:
    """The board and the API's stats at a moment they agree: the DOM read, the API asked,
    the DOM read again unchanged (no refetch landed in between) and equal to the answer.
    Retries until `within`; AssertionError with the last differences otherwise."""
    deadline = time.monotonic() + within
    last: list[str] = []
    while True:
        before = read_board(chrome)
        stats = live.stats()
        after = read_board(chrome)
        if before == after and before["stream"] == "live":
            last = differences(after, stats)
            if not last:
                return after, stats
        else:
            last = ["a refetch landed while the API was asked"]
        if time.monotonic() > deadline:
            raise AssertionError(f"tiles and /stats/queues disagreed for {within} s: {last}")
        time.sleep(0.15)


def open_page(
    chrome: Browser, live: LiveAcd, role: str, path: str = "/", fragment: str = ""
) -> None:
    """Load `path` afresh with `role`'s token in the fragment (from another page: a new
    fragment alone would not reload it) and wait until it is live."""
    chrome.open("about:blank")
    chrome.open(live.url(f"{path}#token={live.tokens[role]}{fragment}"))
    wait_live(chrome)


def wait_live(chrome: Browser, within: float = 15.0) -> None:
    """body[data-stream] is "live" and at least one refetch was applied."""
    chrome.wait(
        lambda: chrome.js(
            "return document.body.dataset.stream === 'live'"
            " && Number(document.body.dataset.updated || 0) > 0"
        ),
        within,
        "the page live with data",
    )


def updated(chrome: Browser) -> int:
    return int(chrome.js("return Number(document.body.dataset.updated || 0)"))
