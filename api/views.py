"""Domain objects → JSON documents (the shapes openapi.py describes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from acd.config import queue_to_dict
from acd.router.model import AgentView, QueueConfig
from acd.service import AgentRecord, IssuedToken, LiveCall, Principal
from acd.service.monitor import MonitorEntry
from acd.service.transfer import TransferOutcome


def queue_doc(queue: QueueConfig) -> dict[str, Any]:
    return queue_to_dict(queue)


def agent_doc(record: AgentRecord) -> dict[str, Any]:
    return {
        "id": record.seed.id,
        "name": record.seed.name,
        "contact": record.seed.contact,
        "skills": dict(record.seed.skills),
        "state": record.state.value,
        "pause_reason": record.pause_reason,
        "idle_since": record.idle_since,
        "state_since": record.state_since,
        "reachable": record.reachable,
        "call_id": record.call_id,
        "pending": record.pending,
    }


def agent_state_doc(view: AgentView) -> dict[str, Any]:
    return {
        "id": view.id,
        "state": view.state.value,
        "pause_reason": view.pause_reason,
        "idle_since": view.idle_since,
        "state_since": view.state_since,
        "reachable": view.reachable,
        "call_id": view.call_id,
        "pending": view.pending,
        "pending_reason": view.pending_reason,
    }


def live_call_doc(call: LiveCall) -> dict[str, Any]:
    view = call.view
    return {
        "id": view.id,
        "live": True,
        "queue": view.queue,
        "state": view.state.value,
        "priority": view.priority,
        "position": call.position,
        "agent_id": view.agent_id,
        "requirements": dict(view.requirements),
        "extra_skills": dict(view.extra_skills),
        "arrived_at": view.arrived_at,
        "enqueued_at": view.enqueued_at,
        "queue_entered_at": view.queue_entered_at,
        "answered_at": view.answered_at,
        "step": view.step,
        "rona_count": view.rona_count,
        "caller": dict(call.caller) if call.caller is not None else None,
    }


def transfer_doc(outcome: TransferOutcome) -> dict[str, Any]:
    return {
        "call_id": outcome.call_id,
        "from_queue": outcome.from_queue,
        "to_queue": outcome.to_queue,
        "from_agent": outcome.from_agent,
        "keep_place": outcome.keep_place,
        "state": outcome.state,
        "offered_to": outcome.offered_to,
        "exit_reason": outcome.exit_reason,
        "consult_id": outcome.consult_id,
    }


def finished_call_doc(call_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The last queue visit's outcome up front; every visit under `legs`."""
    legs: Sequence[Mapping[str, Any]] = record.get("legs") or [record]
    return {
        "id": call_id,
        "live": False,
        "queue": record.get("queue"),
        "outcome": record.get("outcome"),
        "agent_id": record.get("agent_id"),
        "caller_data": record.get("caller_data"),
        "legs": [dict(leg) for leg in legs],
    }


def principal_doc(principal: Principal) -> dict[str, Any]:
    return {"name": principal.name, "role": principal.role, "agent_id": principal.agent_id}


def issued_token_doc(issued: IssuedToken) -> dict[str, Any]:
    return {**principal_doc(issued.principal), "token": issued.secret}


def monitor_doc(entry: MonitorEntry) -> dict[str, Any]:
    return entry.row()
