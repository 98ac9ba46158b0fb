"""The hand-written queue and agent validation as it was before issue 9 (acd/config/documents.py
and the bounds of acd/service/queues.py and agents.py at commit fb2133f), frozen here as the
reference that bench/documents.py measures the declarations against. Not used by the ACD. The
bounds raise ConfigError where they raised acd.errors.Invalid, so that every candidate of the
benchmark fails the same way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from acd.config import ConfigError
from acd.router.model import (
    MAX_LEVEL,
    MIN_LEVEL,
    AgentPolicy,
    EscalationStep,
    QueueConfig,
    RonaAction,
    frozen_skills,
)


@dataclass(frozen=True, slots=True)
class AgentSeed:
    id: str
    name: str = ""
    contact: str = ""
    skills: Mapping[str, int] = field(default_factory=lambda: frozen_skills(None))


def parse_skills(value: Any, where: str) -> Mapping[str, int]:
    if value is None:
        return frozen_skills(None)
    if not isinstance(value, Mapping):
        raise ConfigError(where, "expected an object of skill name to level")
    for name, level in value.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(where, "skill names must be non-empty strings")
        if isinstance(level, bool) or not isinstance(level, int):
            raise ConfigError(f"{where}.{name}", "level must be an integer")
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise ConfigError(f"{where}.{name}", f"level must be {MIN_LEVEL}..{MAX_LEVEL}")
    return frozen_skills(value)


def _number(
    data: Mapping[str, Any],
    key: str,
    default: float | None,
    where: str,
    *,
    allow_none: bool = False,
) -> float | None:
    value = data.get(key, default)
    if value is None:
        if allow_none:
            return None
        raise ConfigError(f"{where}.{key}", "must be a number")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}.{key}", "must be a number")
    if value < 0:
        raise ConfigError(f"{where}.{key}", "must not be negative")
    return float(value)


def _enum(data: Mapping[str, Any], key: str, enum: Any, default: Any, where: str) -> Any:
    value = data.get(key, default.value)
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(m.value for m in enum)
        raise ConfigError(f"{where}.{key}", f"must be one of {choices}") from None


def _bool(data: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}", "must be true or false")
    return value


QUEUE_KEYS = frozenset(f.name for f in fields(QueueConfig))


def parse_queue(data: Any, where: str = "queue") -> QueueConfig:
    """Validate a queue document (contract shape) into a QueueConfig."""
    if not isinstance(data, Mapping):
        raise ConfigError(where, "expected an object")
    unknown = set(data) - QUEUE_KEYS
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}", "unknown key")
    name = data.get("name")
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ConfigError(f"{where}.name", "must be a non-empty string of letters, digits, - or _")
    priority = data.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ConfigError(f"{where}.priority", "must be an integer")
    steps_raw = data.get("escalation", []) or []
    if not isinstance(steps_raw, list):
        raise ConfigError(f"{where}.escalation", "must be a list")
    steps: list[EscalationStep] = []
    for i, step in enumerate(steps_raw):
        step_where = f"{where}.escalation[{i}]"
        if not isinstance(step, Mapping):
            raise ConfigError(step_where, "expected an object with after and skills")
        after = _number(step, "after", None, step_where)
        assert after is not None
        skills = parse_skills(step.get("skills"), f"{step_where}.skills")
        steps.append(EscalationStep(after, skills))
    if any(b.after < a.after for a, b in itertools.pairwise(steps)):
        raise ConfigError(f"{where}.escalation", "steps must be in increasing order of after")
    overflow = data.get("overflow")
    if overflow is not None and (not isinstance(overflow, str) or not overflow):
        raise ConfigError(
            f"{where}.overflow", "must be a queue name, context,exten,priority or null"
        )
    primary = data.get("primary_skill")
    if primary is not None and not isinstance(primary, str):
        raise ConfigError(f"{where}.primary_skill", "must be a skill name or null")
    max_wait = _number(data, "max_wait", 300.0, where, allow_none=True)
    ring_timeout = _number(data, "ring_timeout", 15.0, where)
    assert ring_timeout is not None
    if ring_timeout <= 0:
        raise ConfigError(f"{where}.ring_timeout", "must be positive")
    announce_every = _number(data, "announce_every", 30.0, where)
    assert announce_every is not None
    return QueueConfig(
        name=name,
        skills=parse_skills(data.get("skills"), f"{where}.skills"),
        priority=priority,
        sl_threshold=_number(data, "sl_threshold", 20.0, where) or 0.0,
        wrap_up=_number(data, "wrap_up", 5.0, where) or 0.0,
        ring_timeout=ring_timeout,
        max_wait=max_wait if max_wait else None,
        overflow=overflow,
        escalation=tuple(steps),
        policy=_enum(data, "policy", AgentPolicy, AgentPolicy.LONGEST_IDLE, where),
        primary_skill=primary,
        rona_action=_enum(data, "rona_action", RonaAction, RonaAction.PAUSE, where),
        rona_delay=_number(data, "rona_delay", 0.0, where) or 0.0,
        join_empty=_bool(data, "join_empty", True, where),
        leave_empty=_bool(data, "leave_empty", False, where),
        announce_every=announce_every,
        callback=_bool(data, "callback", True, where),
        short_abandon=_number(data, "short_abandon", 5.0, where) or 0.0,
        sl_window=_number(data, "sl_window", 3600.0, where) or 3600.0,
    )


AGENT_KEYS = frozenset({"id", "name", "contact", "skills"})


def parse_agent(data: Any, where: str = "agent") -> AgentSeed:
    if not isinstance(data, Mapping):
        raise ConfigError(where, "expected an object")
    unknown = set(data) - AGENT_KEYS
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}", "unknown key")
    agent_id = data.get("id")
    if isinstance(agent_id, int) and not isinstance(agent_id, bool):
        agent_id = str(agent_id)
    valid_chars = isinstance(agent_id, str) and all(c.isalnum() or c in "-_." for c in agent_id)
    if not isinstance(agent_id, str) or not agent_id or not valid_chars:
        raise ConfigError(f"{where}.id", "must be a non-empty string of letters, digits, -, _ or .")
    name = data.get("name", "")
    contact = data.get("contact", "")
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name", "must be a string")
    if not isinstance(contact, str):
        raise ConfigError(f"{where}.contact", "must be a string such as PJSIP/1001")
    return AgentSeed(agent_id, name, contact, parse_skills(data.get("skills"), f"{where}.skills"))


# --- the service layer's bounds (acd/service/common.py, queues.py, agents.py at fb2133f) ----

MAX_PRIORITY = 1_000_000
MAX_SECONDS = 10_000_000.0
MAX_NAME_LENGTH = 64
MAX_TEXT_LENGTH = 200
MAX_PAUSE_REASON_LENGTH = 100


def _check_seconds(value: float | None, field: str) -> None:
    if value is not None and (not math.isfinite(value) or value > MAX_SECONDS):
        raise ConfigError(field, f"must be at most {MAX_SECONDS:.0f} seconds")


def check_queue_bounds(queue: QueueConfig, where: str = "queue") -> None:
    if len(queue.name) > MAX_NAME_LENGTH:
        raise ConfigError(f"{where}.name", f"must be at most {MAX_NAME_LENGTH} characters")
    if abs(queue.priority) > MAX_PRIORITY:
        raise ConfigError(f"{where}.priority", f"must be within ±{MAX_PRIORITY}")
    for key in (
        "sl_threshold",
        "wrap_up",
        "ring_timeout",
        "max_wait",
        "rona_delay",
        "announce_every",
        "short_abandon",
        "sl_window",
    ):
        _check_seconds(getattr(queue, key), f"{where}.{key}")
    for i, step in enumerate(queue.escalation):
        _check_seconds(step.after, f"{where}.escalation[{i}].after")
    for text_field in ("overflow", "primary_skill"):
        text = getattr(queue, text_field)
        if text is not None and len(text) > MAX_TEXT_LENGTH:
            raise ConfigError(
                f"{where}.{text_field}", f"must be at most {MAX_TEXT_LENGTH} characters"
            )


def check_agent_bounds(agent: AgentSeed, where: str = "agent") -> None:
    if len(agent.id) > MAX_NAME_LENGTH:
        raise ConfigError(f"{where}.id", f"must be at most {MAX_NAME_LENGTH} characters")
    for key in ("name", "contact"):
        if len(getattr(agent, key)) > MAX_TEXT_LENGTH:
            raise ConfigError(f"{where}.{key}", f"must be at most {MAX_TEXT_LENGTH} characters")
