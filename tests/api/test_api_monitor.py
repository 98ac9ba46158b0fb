"""POST /agents/{id}/monitor (listen / whisper / barge) and GET /monitor_log over the real
wiring, with the controller's dial replaced by a recorder (the real one is exercised against
Asterisk in tests/e2e/test_supervisor_monitor.py): roles, errors, the audit row."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from api_support import Api, issue

from acd.compose import Assembly
from acd.controller.monitor import ANSWERED, AgentLeg

MONITOR = "/api/v1/agents/1001/monitor"


@dataclass
class FakeDialer:
    ready: bool = True
    legs: dict[str, AgentLeg] = field(default_factory=dict)
    dialled: list[tuple[str, str, AgentLeg]] = field(default_factory=list)
    result: str = ANSWERED

    def agent_leg(self, agent_id: str) -> AgentLeg | None:
        return self.legs.get(agent_id)

    async def dial(self, contact: str, mode: str, leg: AgentLeg) -> str:
        self.dialled.append((contact, mode, leg))
        return self.result


@pytest.fixture
def dialer(assembly: Assembly) -> FakeDialer:
    fake = FakeDialer(legs={"1001": AgentLeg("1700000000.1", "1700000000.2")})
    assembly.services.monitor.attach(fake)
    return fake


async def test_a_supervisor_whispers_and_the_audit_log_says_who_when_and_how(
    api: Api, assembly: Assembly, dialer: FakeDialer
) -> None:
    boss = api.as_token(await issue(api, "boss", "supervisor"))
    status, entry = await boss.post(MONITOR, {"mode": "whisper", "contact": "PJSIP/1003"})
    assert status == 202, entry
    assert entry["result"] == "dialing"
    assert (entry["token"], entry["role"], entry["agent_id"]) == ("boss", "supervisor", "1001")
    assert (entry["call_id"], entry["mode"], entry["contact"]) == (
        "1700000000.1",
        "whisper",
        "PJSIP/1003",
    )
    await assembly.services.monitor.settled()
    assert dialer.dialled == [("PJSIP/1003", "whisper", AgentLeg("1700000000.1", "1700000000.2"))]

    status, _ = await api.post(MONITOR, {"mode": "barge", "contact": "PJSIP/1003"})  # admin
    assert status == 202
    await assembly.services.monitor.settled()
    status, log = await boss.get("/api/v1/monitor_log")
    assert status == 200
    assert [(e["token"], e["mode"], e["result"]) for e in log] == [
        ("ACD_API_TOKEN", "barge", ANSWERED),  # the configured admin token's name
        ("boss", "whisper", ANSWERED),
    ]
    assert (log[1]["id"], log[1]["at"]) == (entry["id"], entry["at"])
    status, log = await boss.get("/api/v1/monitor_log?limit=1")
    assert [e["mode"] for e in log] == ["barge"]


@pytest.mark.parametrize("role", ["reader", "agent"])
async def test_only_supervisors_and_admins_may_monitor_or_read_the_log(
    api: Api, dialer: FakeDialer, role: str
) -> None:
    other = api.as_token(await issue(api, "someone", role, "1001" if role == "agent" else None))
    status, body = await other.post(MONITOR, {"mode": "listen", "contact": "PJSIP/1003"})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, _ = await other.get("/api/v1/monitor_log")
    assert status == 403
    status, _ = await api.post(MONITOR, {"mode": "listen", "contact": "PJSIP/1003"}, token=None)
    assert status == 401
    assert dialer.dialled == []


async def test_unknown_agent_not_on_a_call_and_no_asterisk(
    api: Api, assembly: Assembly, dialer: FakeDialer
) -> None:
    body = {"mode": "listen", "contact": "PJSIP/1003"}
    status, error = await api.post("/api/v1/agents/nobody/monitor", body)
    assert (status, error["error"]["code"]) == (404, "unknown_agent")
    status, error = await api.post("/api/v1/agents/1002/monitor", body)
    assert (status, error["error"]["code"]) == (409, "agent_not_on_call")
    status, error = await api.post(MONITOR, {"mode": "listen", "contact": "PJSIP/1001"})
    assert (status, error["error"]["code"]) == (409, "own_phone")  # the agent's own phone
    dialer.ready = False
    status, error = await api.post(MONITOR, body)
    assert (status, error["error"]["code"]) == (503, "asterisk_unavailable")
    assert dialer.dialled == []
    assert await assembly.services.monitor.recent(10) == []


@pytest.mark.parametrize(
    ("body", "culprit"),
    [
        ({"mode": "spy", "contact": "PJSIP/1003"}, "mode"),
        ({"contact": "PJSIP/1003"}, "mode"),
        ({"mode": "listen"}, "contact"),
        ({"mode": "listen", "contact": ""}, "contact"),
        ({"mode": "listen", "contact": "PJSIP/1003&PJSIP/1004"}, "contact"),
        ({"mode": "listen", "contact": "PJSIP/1003,,qw"}, "contact"),
        ({"mode": "listen", "contact": "Local/s@from-internal"}, "contact"),
        ({"mode": "listen", "contact": "PJSIP/1003", "spy": True}, "spy"),
    ],
)
async def test_a_bad_body_is_422_naming_the_field_and_nothing_is_dialled(
    api: Api, dialer: FakeDialer, body: dict[str, object], culprit: str
) -> None:
    status, error = await api.post(MONITOR, body, check_request=False)
    assert status == 422, error
    assert error["error"]["field"] == culprit
    assert dialer.dialled == []


async def test_the_log_limit_is_bounded(api: Api) -> None:
    for limit in ("0", "1001", "x"):
        status, _ = await api.get(f"/api/v1/monitor_log?limit={limit}")
        assert status == 422
