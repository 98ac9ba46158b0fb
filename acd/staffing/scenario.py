"""What a simulation runs: queues with their traffic, and groups of identical agents.

A scenario file is TOML:

    handle_dist = "exponential"      # or "lognormal"; optional
    handle_cv = 1.0                  # lognormal coefficient of variation; optional

    [[queues]]                       # a queue document (acd.config.parse_queue) plus traffic:
    name = "sales"
    skills = { sales = 5 }
    escalation = [{ after = 15, skills = { sales = 1 } }]
    wrap_up = 10
    rate = 120                       # calls per hour
    aht = 240                        # mean handle time in seconds: talk + wrap_up
    patience = 180                   # mean patience in seconds (exponential); optional

    [[groups]]
    name = "sales-team"
    agents = 8
    skills = { sales = 8 }

Handle time = talk + wrap-up: the router applies the queue's wrap-up (a constant) after
CallEnded, so the simulator draws the talk time with mean `aht - wrap_up` and the handle time
has mean `aht`. For comparisons with Erlang, wrap-up is 0 and the talk time is the handle time.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from acd.config import ConfigError, parse_queue, parse_skills
from acd.router.model import QueueConfig

#: Group names prefix simulated agent ids: the agent id rule's ASCII letters, digits, - and _.
_GROUP_NAME = re.compile(r"[A-Za-z0-9_-]+")

TRAFFIC_KEYS = ("rate", "aht", "patience")


class HandleDistribution(StrEnum):
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"


@dataclass(frozen=True, slots=True)
class QueueTraffic:
    queue: QueueConfig
    rate: float  # calls per second
    aht: float  # mean handle time (talk + wrap-up), seconds
    patience: float | None  # mean patience, seconds; None: callers never hang up

    @property
    def mean_talk(self) -> float:
        return self.aht - self.queue.wrap_up


@dataclass(frozen=True, slots=True)
class AgentGroup:
    name: str
    agents: int
    skills: Mapping[str, int]

    def agent_ids(self) -> list[str]:
        return [f"{self.name}-{i + 1}" for i in range(self.agents)]


@dataclass(frozen=True, slots=True)
class Scenario:
    queues: tuple[QueueTraffic, ...]
    groups: tuple[AgentGroup, ...]
    handle_distribution: HandleDistribution = HandleDistribution.EXPONENTIAL
    handle_cv: float = 1.0  # only for lognormal; exponential always has cv 1

    def __post_init__(self) -> None:
        if not self.queues:
            raise ConfigError("queues", "a scenario needs at least one queue")
        if not self.groups:
            raise ConfigError("groups", "a scenario needs at least one agent group")
        names = [t.queue.name for t in self.queues]
        if len(set(names)) != len(names):
            raise ConfigError("queues", "queue names must be unique")
        groups = [g.name for g in self.groups]
        if len(set(groups)) != len(groups):
            raise ConfigError("groups", "group names must be unique")
        for i, traffic in enumerate(self.queues):
            if traffic.mean_talk <= 0:
                raise ConfigError(f"queues[{i}].aht", "must be longer than the queue's wrap_up")
        if not self.handle_cv > 0:
            raise ConfigError("handle_cv", "must be positive")


def single_queue(
    rate_per_hour: float,
    aht: float,
    agents: int,
    threshold: float,
    patience: float | None = None,
    wrap_up: float = 0.0,
    short_abandon: float = 0.0,
    handle_distribution: HandleDistribution = HandleDistribution.EXPONENTIAL,
    handle_cv: float = 1.0,
) -> Scenario:
    """The Erlang setting: one FCFS queue, one group, no max wait, no skills."""
    queue = QueueConfig(
        name="queue",
        sl_threshold=threshold,
        wrap_up=wrap_up,
        max_wait=None,
        short_abandon=short_abandon,
    )
    return Scenario(
        queues=(QueueTraffic(queue, rate_per_hour / 3600.0, aht, patience),),
        groups=(AgentGroup("agent", agents, {}),),
        handle_distribution=handle_distribution,
        handle_cv=handle_cv,
    )


def _positive(data: Mapping[str, Any], key: str, where: str, *, required: bool) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{where}.{key}", "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}.{key}", "must be a number")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{where}.{key}", "must be positive")
    return float(value)


def _required(data: Mapping[str, Any], key: str, where: str) -> float:
    value = _positive(data, key, where, required=True)
    if value is None:  # _positive raised already; this narrows the type
        raise ConfigError(f"{where}.{key}", "is required")
    return value


def parse_scenario(data: Mapping[str, Any]) -> Scenario:
    known = {"queues", "groups", "handle_dist", "handle_cv"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(sorted(unknown)[0], "unknown key")
    queues_raw = data.get("queues", [])
    groups_raw = data.get("groups", [])
    if not isinstance(queues_raw, list) or not isinstance(groups_raw, list):
        raise ConfigError("queues", "queues and groups must be arrays of tables")
    queues: list[QueueTraffic] = []
    for i, raw in enumerate(queues_raw):
        where = f"queues[{i}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(where, "expected a table")
        document = {k: v for k, v in raw.items() if k not in TRAFFIC_KEYS}
        rate = _required(raw, "rate", where)
        aht = _required(raw, "aht", where)
        patience = _positive(raw, "patience", where, required=False)
        queues.append(QueueTraffic(parse_queue(document, where), rate / 3600.0, aht, patience))
    groups: list[AgentGroup] = []
    for i, raw in enumerate(groups_raw):
        where = f"groups[{i}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(where, "expected a table")
        unknown = set(raw) - {"name", "agents", "skills"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}", "unknown key")
        name = raw.get("name")
        if not isinstance(name, str) or not _GROUP_NAME.fullmatch(name):
            raise ConfigError(f"{where}.name", "must be a string of ASCII letters, digits, - or _")
        agents = raw.get("agents")
        if isinstance(agents, bool) or not isinstance(agents, int) or agents < 0:
            raise ConfigError(f"{where}.agents", "must be a whole number >= 0")
        groups.append(AgentGroup(name, agents, parse_skills(raw.get("skills"), f"{where}.skills")))
    distribution = data.get("handle_dist", HandleDistribution.EXPONENTIAL.value)
    try:
        handle_distribution = HandleDistribution(distribution)
    except ValueError:
        raise ConfigError("handle_dist", "must be exponential or lognormal") from None
    cv = _positive(data, "handle_cv", "scenario", required=False)
    return Scenario(tuple(queues), tuple(groups), handle_distribution, 1.0 if cv is None else cv)


def load_scenario(path: str | Path) -> Scenario:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(str(path), exc.strerror or str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), str(exc)) from None
    return parse_scenario(data)
