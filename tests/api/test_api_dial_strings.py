"""The API refuses contacts, overflows and fallbacks that would reach Asterisk as more than one
value (acd/config/dialstrings.py), with the `[dial]` allow-lists; values stored before the
rules are not sent to Asterisk after a restart. Each of these was accepted before."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from api_support import Api, make_settings

from acd.compose import assemble
from acd.config import AgentSeed, DialSettings, Settings
from acd.router.model import QueueConfig

INJECTIONS = {
    "crlf": "PJSIP/1001\r\nAction: Originate\r\nChannel: PJSIP/trunk/0900123",
    "lf": "PJSIP/1001\nEXEC AGI /bin/sh",
    "ampersand": "PJSIP/1001&PJSIP/trunk/0900123",
    "comma": "PJSIP/1001,600,tTL(1)",
    "technology": "DAHDI/g1/0900123",
    "local_context": "Local/0900123@trunk-out",
}


@pytest.mark.parametrize("contact", INJECTIONS.values(), ids=INJECTIONS.keys())
async def test_a_contact_that_is_not_one_dial_string_is_refused(api: Api, contact: str) -> None:
    for method, path, body in (
        ("POST", "/api/v1/agents", {"id": "9001", "contact": contact}),
        ("PUT", "/api/v1/agents/1001", {"contact": contact}),
    ):
        # The schema says so too (its pattern): the request is sent as it is, unchecked.
        status, error = await api.call(method, path, body, check_request=False)
        assert status == 422, (method, contact)
        assert error["error"]["field"] == "agent.contact"
    status, agent = await api.get("/api/v1/agents/1001")
    assert agent["contact"] == "PJSIP/1001"
    assert (await api.get("/api/v1/agents/9001"))[0] == 404


TARGETS = {
    "quote": 'x" != "" | "1',
    "crlf": "ivr,s,1\r\nAction: Originate",
    "lf": "ivr,s,1\n",
    "comma": "ivr,s,1,extra",
}


@pytest.mark.parametrize("target", TARGETS.values(), ids=TARGETS.keys())
async def test_an_overflow_or_fallback_outside_the_grammar_is_refused(
    api: Api, target: str
) -> None:
    for key in ("overflow", "fallback"):
        body = {"name": "support", key: target}
        status, error = await api.put("/api/v1/queues/support", body, check_request=False)
        assert status == 422, (key, target)
        assert error["error"]["field"] == f"queue.{key}"
        status, _ = await api.post("/api/v1/queues", {**body, "name": "new"}, check_request=False)
        assert status == 422
    status, queue = await api.get("/api/v1/queues/support")
    assert (queue["overflow"], queue["fallback"]) == (None, None)


async def test_a_dial_string_as_asterisk_writes_one_is_accepted(api: Api) -> None:
    for contact in ("PJSIP/2001", "Local/2001@acd-sim-agent/n", "PJSIP/trunk/sip:+49301@host"):
        status, agent = await api.put("/api/v1/agents/1001", {"contact": contact})
        assert (status, agent["contact"]) == (200, contact)
    status, queue = await api.put("/api/v1/queues/support", {"overflow": "acd-inbound,sales,1"})
    assert (status, queue["overflow"]) == (200, "acd-inbound,sales,1")


class TestConfiguredAllowList:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        dial = DialSettings(technologies=("SIP", "Local"), local_contexts=("agents",))
        base = make_settings(tmp_path)
        agents = tuple(replace(a, contact=f"SIP/{a.id}") for a in base.agents)
        return replace(base, dial=dial, agents=agents)

    async def test_the_dial_settings_decide_what_a_contact_may_be(self, api: Api) -> None:
        for contact in ("SIP/2001", "Local/2001@agents"):
            status, _ = await api.put("/api/v1/agents/1001", {"contact": contact},
                                      check_request=False)  # fmt: skip
            assert status == 200, contact
        for contact in ("PJSIP/2001", "Local/2001@acd-sim-agent"):
            status, error = await api.put(
                "/api/v1/agents/1001", {"contact": contact}, check_request=False
            )
            assert status == 422, contact
            assert "not allowed" in error["error"]["message"]

    async def test_the_openapi_document_states_the_configured_allow_list(self, api: Api) -> None:
        _, document = await api.get("/api/v1/openapi.json")
        pattern = document["components"]["schemas"]["AgentInput"]["properties"]["contact"]
        assert "[Ss][Ii][Pp]/" in pattern["pattern"]
        assert "[Pp][Jj]" not in pattern["pattern"]
        assert "@(?:agents)" in pattern["pattern"]


async def test_stored_values_from_before_the_rules_never_reach_asterisk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database written before the rules: the agent stays without its contact (no offer is
    dialled to it, an operator PUTs a good one); the queue stays without its bad overflow and
    fallback (after max_wait its callers go back to the dialplan). Both say so in the log; the
    start goes on, and the stored rows are left for the operator to correct."""
    settings = make_settings(tmp_path)
    first = await assemble(settings)
    try:
        await first.database.config.put_agent(AgentSeed("1001", "Ada", INJECTIONS["crlf"]))
        bad = QueueConfig("bad", max_wait=60, overflow=TARGETS["quote"], fallback=TARGETS["crlf"])
        await first.database.config.put_queue(bad)
    finally:
        await first.close()
    caplog.set_level(logging.WARNING)
    second = await assemble(settings)
    try:
        seed = second.directory.get("1001")
        assert seed is not None
        assert (seed.name, seed.contact) == ("Ada", "")
        assert second.engine.router.agent("1001") is not None
        assert second.directory.get("1002").contact == "PJSIP/1002"  # type: ignore[union-attr]
        queue = second.engine.router.queue("bad")
        assert queue is not None
        assert (queue.max_wait, queue.overflow, queue.fallback) == (60, None, None)
        assert second.engine.router.queue("support") is not None
    finally:
        await second.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "1001" in logged
    assert "contact" in logged
    assert "stored queue bad" in logged
    assert "overflow" in logged
    assert "fallback" in logged
