"""The fault harness itself, on the real Asterisk: `acd serve` as a process that a test can
SIGKILL and start again on the same store, and a probe that plays callers.

Only what holds today is asserted (the process dies and comes back ready, Asterisk keeps the
call). What a restarted controller makes of the calls it finds is issue #10's work; the
behaviour measured before it is in FINDINGS.md.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

import aiohttp
import pytest

from .harness import ControllerProcess, Probe, in_state, queue, sim_agent

pytestmark = pytest.mark.asterisk


async def test_sigkill_and_restart_on_the_same_store(
    controller_process: Callable[..., ControllerProcess], probe: Probe
) -> None:
    acd = controller_process(queues=[queue("support")], agents=[sim_agent("2001")])
    first = await acd.start()
    assert first == acd.time_to_ready()
    await acd.login_all()

    caller = await probe.call("support", talk=30)
    await probe.wait_channels(in_state(caller.call_id, "connected"))
    calls = await acd.live_calls()
    assert [(c["id"], c["state"], c["agent_id"]) for c in calls] == [
        (caller.call_id, "connected", "2001")
    ]

    pid = acd.pid
    assert await acd.kill(signal.SIGKILL) == -signal.SIGKILL
    assert not acd.running
    with pytest.raises(aiohttp.ClientError):
        await acd.api("GET", "/readyz", within=2.0)
    # Asterisk keeps the caller talking to the agent while no controller runs.
    await probe.wait_channels(in_state(caller.call_id, "connected"), within=2.0)

    again = await acd.restart()
    assert acd.pid != pid
    assert acd.starts == 2
    assert again == acd.time_to_ready()
    assert 0 < again < 30
    assert (await acd.api("GET", "/readyz", token="")).status == 200
    assert (await acd.api("GET", "/healthz", token="")).status == 200
    # Same store: the seeded queue and agent are restored, not seeded again.
    queues = await acd.api("GET", "/queues")
    assert [q["name"] for q in queues.body] == ["support"]
    assert set(await acd.agent_states()) == {"2001"}
    assert (await acd.api("GET", "/calls", token="")).status == 401


async def test_sigterm_stops_the_process(
    controller_process: Callable[..., ControllerProcess],
) -> None:
    acd = controller_process()
    await acd.start()
    status = await acd.kill(signal.SIGTERM, within=15.0)
    assert status == 0, acd.log_tail()
    assert not acd.running
