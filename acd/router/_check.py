"""`Router._check()`: every index invariant of the indexed router, asserted from scratch.

Slow on purpose (it rescans everything); the stress tests call it after every step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.router.model import RONA_REASON, AgentState, CallState, merge_requirements, satisfies

if TYPE_CHECKING:
    from acd.router.router import Router


def check_router(router: Router) -> None:
    agents = router._agents
    calls = router._calls
    queues = router._queues
    reqsets = router._reqsets

    for a in agents.values():
        assert a.id in agents
        assert agents[a.id] is a
        dispatchable = a.state == AgentState.AVAILABLE and a.reachable
        assert bool(a.epoch) == dispatchable, (a.id, a.state, a.epoch)
        assert (a.idle_since is None) == (a.state == AgentState.LOGGED_OUT), a.id
        assert (a.pause_reason is not None) == (a.state == AgentState.PAUSED), a.id
        assert (a.wrap_until is not None) <= (a.state == AgentState.WRAP_UP), a.id
        if a.rona_until is not None:
            assert a.state == AgentState.PAUSED, a.id
            assert a.pause_reason == RONA_REASON, a.id
        if a.pending is not None:
            assert a.state in (AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP), a.id
        if a.state in (AgentState.RESERVED, AgentState.BUSY):
            c = calls[a.call_id or ""]
            assert c.agent_id == a.id
            expected = CallState.OFFERED if a.state == AgentState.RESERVED else CallState.CONNECTED
            assert c.state == expected
        expected_sets = sorted(r.serial for r in reqsets.values() if satisfies(a.skills, r.skills))
        assert list(a.cls.key) == expected_sets, a.id
        assert a.cls.members[a.id] is a
        assert router._classes[a.cls.key] is a.cls
        for skill in a.skills:
            assert router._agents_by_skill[skill][a.id] is a

    for skill, members in router._agents_by_skill.items():
        for agent_id, a in members.items():
            assert agents[agent_id] is a
            assert skill in a.skills

    for class_key, cls in router._classes.items():
        assert cls.key == class_key
        assert [r.serial for r in cls.reqsets] == list(class_key)
        assert cls.members, "empty classes are dropped"
        for agent_id, a in cls.members.items():
            assert agents[agent_id] is a
            assert a.cls is cls
        logged_in = [a for a in cls.members.values() if a.state != AgentState.LOGGED_OUT]
        assert cls.logged_in == len(logged_in)
        live_agents = sorted(a.id for a in cls.members.values() if a.epoch)
        assert cls.available == len(live_agents)
        assert None in cls.heaps
        for ordering, heap in cls.heaps.items():
            for i in range(1, len(heap)):
                assert heap[(i - 1) // 2] <= heap[i], "agent heap order"
            live = [e for e in heap if e[-2] == e[-1].epoch]
            assert sorted(e[-1].id for e in live) == live_agents, (class_key, ordering)
            for e in live:
                assert e == e[-1].entry(ordering), "stale key in a live entry"
        assert cls.waiting == sum(r.waiting_live for r in cls.reqsets)
        assert set(map(id, cls.direct)) == {id(r) for r in cls.reqsets if r.heaps is not None}

    for key, r in reqsets.items():
        assert r.key == key
        assert r.skills == dict(key)
        containing = [c for c in router._classes.values() if r in c.reqsets]
        assert sorted(map(id, r.classes)) == sorted(map(id, containing)), key
        if r.heaps is None:
            assert len(r.classes) <= router._class_scan_limit, key
        else:
            set_members = sorted(a.id for c in r.classes for a in c.members.values() if a.epoch)
            assert r.available == len(set_members), key
            for ordering, heap in r.heaps.items():
                for i in range(1, len(heap)):
                    assert heap[(i - 1) // 2] <= heap[i], "set agent heap order"
                live = [e for e in heap if e[-2] == e[-1].epoch]
                assert sorted(e[-1].id for e in live) == set_members, (key, ordering)
                for e in live:
                    assert e == e[-1].entry(ordering), "stale key in a live entry"
        for i in range(1, len(r.waiting)):
            assert r.waiting[(i - 1) // 2] <= r.waiting[i], "call heap order"
        live_calls = [e[2].id for e in r.waiting if e[1] == e[2].epoch]
        expected_calls = [
            c.id for c in calls.values() if c.state == CallState.WAITING and c.reqset is r
        ]
        assert sorted(live_calls) == sorted(expected_calls), key
        assert r.waiting_live == len(expected_calls)

    for name, q in queues.items():
        assert q.config.name == name
        assert (name in router._leave_empty_queues) == q.config.leave_empty
        mine = [c for c in calls.values() if c.queue == name and c.state != CallState.CONNECTED]
        assert set(q.calls) == {c.id for c in mine}
        assert q.waiting == sorted(c.order for c in mine if c.state == CallState.WAITING)

    waiting_orders: list[tuple[int, float, int, str]] = []
    for c in calls.values():
        assert c.order[3] == c.id
        assert c.order[:2] == (-c.priority, c.enqueued_at)
        assert bool(c.epoch) == (c.state == CallState.WAITING), c.id
        if c.state == CallState.WAITING:
            waiting_orders.append(c.order)
        if c.state != CallState.WAITING:
            assert agents[c.agent_id or ""].call_id == c.id
        if c.state == CallState.CONNECTED:
            continue
        q = queues[c.queue]
        assert c.reqset is c.steps[c.step]
        assert len(c.steps) == len(q.config.escalation) + 1
        for step, r in enumerate(c.steps):
            assert r.skills == merge_requirements(q.step_skills(step), c.extra)
        afters = q.afters
        expected_at = c.queue_entered_at + afters[c.step] if c.step < len(afters) else None
        assert c.escalation_at == expected_at, c.id
        max_wait = q.config.max_wait
        assert c.max_wait_at == (None if max_wait is None else c.queue_entered_at + max_wait)

    # Dispatch invariant: no dispatchable agent could take a WAITING call.
    for c in calls.values():
        if c.state == CallState.WAITING and c.reqset is not None:
            available = sum(cls.available for cls in c.reqset.classes)
            assert available == 0, f"call {c.id} waits while an agent could take it"

    # Every live deadline is in the heap.
    entries = set(router._deadlines)
    for a in agents.values():
        if a.state == AgentState.WRAP_UP and a.wrap_until is not None:
            assert (a.wrap_until, 0, a.id) in entries
        if a.rona_until is not None:
            assert (a.rona_until, 1, a.id) in entries
    for c in calls.values():
        if c.state != CallState.CONNECTED and c.escalation_at is not None:
            assert (c.escalation_at, 2, c.id) in entries
        if c.state == CallState.WAITING and c.max_wait_at is not None:
            assert (c.max_wait_at, 3, c.id) in entries
