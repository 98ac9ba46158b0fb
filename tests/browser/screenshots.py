"""`make screenshots`: the wallboard and the agent panel on a real Asterisk and `acd serve`
with calls flowing, saved as docs/wallboard.png (1600x900), docs/wallboard-phone.png
(390x844) and docs/agent-panel.png (1280x800).

    .venv/bin/python -m tests.browser.screenshots [--out docs] [--calls 8]

It starts a throw-away Asterisk instance (as the tests do) and `acd serve` with the queues,
agents and `[demo]` section of acd.example.toml (simulated agents logged in, a Poisson stream
of callers, a little faster than the demo's own pace so the board fills in a minute); an
example without `[demo]` gets the browser tests' configuration and callers originated here.
It waits until calls have been answered and some are in progress, then takes the pictures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "acd.example.toml"
WALLBOARD = (1600, 900)
PHONE = (390, 844)
PANEL = (1280, 800)
#: The demo's callers per minute for the pictures: the example's pace takes minutes to fill
#: the board, and much faster than this swamps its four simulated agents.
DEMO_PACE = 12.0


def demo_configuration(example: Path = EXAMPLE) -> dict[str, Any] | None:
    """The example's queues, agents and [demo] (enabled, faster), or None without [demo]."""
    data = tomllib.loads(example.read_text())
    if "demo" not in data:
        return None
    demo = dict(data["demo"])
    demo["enabled"] = True
    demo["calls_per_minute"] = max(float(demo.get("calls_per_minute", 0)), DEMO_PACE)
    return {
        "queues": data.get("queues", []),
        "agents": data.get("agents", []),
        "sections": {"demo": demo},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go")
    parser.add_argument(
        "--calls", type=int, default=8, help="answered calls to wait for before the pictures"
    )
    args = parser.parse_args(argv)
    # The harness imports the tests' helpers as pytest does: from the tests folder.
    sys.path.insert(0, str(ROOT / "tests"))
    from acd.asterisk.install import install
    from acd.asterisk.testing import (
        prune_stale_test_instances,
        start_with_free_ports,
        unique_test_name,
    )
    from browser.harness import running_live_acd

    installation = install(use_host=True).installation
    prune_stale_test_instances(installation)
    asterisk = start_with_free_ports(installation, unique_test_name("screenshots"))
    demo = demo_configuration()
    options: dict[str, Any] = {"agent_token_for": None}
    if demo is not None:
        agents = [a["id"] for a in demo["agents"] if "@acd-sim-agent" in a.get("contact", "")]
        options.update(demo, logged_in=(), agent_token_for=agents[0] if agents else None)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="acd-screenshots-") as work,
            running_live_acd(asterisk, Path(work), **options) as live,
        ):
            if demo is None:
                with live.calls(every=1.5, talk=8):
                    return take(live, args.out, args.calls, Path(work))
            print("acd: the example's [demo] plays the callers", file=sys.stderr)
            return take(live, args.out, args.calls, Path(work))
    finally:
        asterisk.instance.remove()


def take(live: Any, out: Path, calls: int, work: Path) -> int:
    from browser.chrome import Browser, start_chrome
    from browser.pages import wait_live

    def answered() -> int:
        return sum(s["today"]["answered"] for s in live.stats().values())

    def busy_agent() -> str | None:
        agents = live.api("GET", "/agents").body
        return next((a["id"] for a in agents if a.get("state") == "busy"), None)

    deadline = time.monotonic() + 300
    while answered() < calls or busy_agent() is None:
        if time.monotonic() > deadline:
            print(f"acd: fewer than {calls} calls answered in 5 minutes", file=sys.stderr)
            return 1
        time.sleep(1)
    out.mkdir(parents=True, exist_ok=True)
    token = live.tokens["supervisor"]
    shots = (
        ("wallboard.png", WALLBOARD, f"/#token={token}"),
        ("wallboard-phone.png", PHONE, f"/#token={token}"),
        ("agent-panel.png", PANEL, None),
    )
    for name, (width, height), path in shots:
        chrome = Browser(start_chrome(work / f"profile-{name}", (width, height)))
        try:
            # The viewport itself, whatever the window's frame: a phone's at its width.
            chrome.driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {
                    "width": width,
                    "height": height,
                    "deviceScaleFactor": 1,
                    "mobile": width < 600,
                },
            )
            if path is None:  # the agent panel of an agent in a call, as the admin sees it
                agent = busy_agent() or live.api("GET", "/agents").body[0]["id"]
                path = f"/agent#token={live.tokens['admin']}&agent={agent}"
            chrome.open(live.url(path))
            wait_live(chrome)
            time.sleep(1.5)  # a second's tick of the waits and times in state
            chrome.driver.save_screenshot(str(out / name))
            print(f"acd: wrote {out / name}", file=sys.stderr)
        finally:
            chrome.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
