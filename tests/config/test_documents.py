"""The declarations of acd/config/documents.py and the config file that uses them.

Agreement with the OpenAPI schema and the API over the edge cases: tests/api/test_api_documents.py.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from acd.config import (
    AgentSeed,
    ConfigError,
    QueueInput,
    load_settings,
    parse_agent,
    parse_pause,
    parse_queue,
    parse_skills,
    queue_to_dict,
)
from acd.router.model import AgentPolicy, EscalationStep, QueueConfig

EXAMPLE = Path(__file__).parents[2] / "acd.example.toml"


def test_the_queue_document_is_queueconfig_with_its_defaults() -> None:
    assert list(QueueInput.model_fields) == [f.name for f in fields(QueueConfig)]
    assert parse_queue({"name": "x"}) == QueueConfig("x")


def test_a_queue_survives_the_round_trip_through_its_document() -> None:
    queue = parse_queue(
        {"name": "sales", "skills": {"sales": 2}, "priority": -3, "max_wait": None,
         "escalation": [{"after": 30, "skills": {"sales": 1}}, {"after": 30}],
         "policy": "most_skilled", "primary_skill": "sales", "overflow": "support"}
    )  # fmt: skip
    assert queue.escalation == (EscalationStep(30.0, {"sales": 1}), EscalationStep(30.0))
    assert queue.policy is AgentPolicy.MOST_SKILLED
    document = queue_to_dict(queue)
    assert json.loads(json.dumps(document)) == document
    assert parse_queue(document) == queue


def test_zero_max_wait_means_no_limit() -> None:
    # The router refuses 0 (a call could bounce between queues within one tick).
    assert parse_queue({"name": "x", "max_wait": 0}).max_wait is None


def test_an_agent_becomes_a_seed() -> None:
    agent = parse_agent({"id": "a.b-1", "name": "Ada", "skills": {"x": 3}})
    assert agent == AgentSeed("a.b-1", "Ada", "", {"x": 3})


@pytest.mark.parametrize(
    ("value", "field"),
    [({"a": 0}, "where.a"), ({"": 1}, "where"), ([("a", 1)], "where"), ({"a": True}, "where.a")],
)
def test_parse_skills_names_the_skill(value: Any, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_skills(value, "where")
    assert caught.value.field == field


def test_parse_skills_reads_none_as_no_skills() -> None:
    assert parse_skills(None, "where") == {}
    assert list(parse_skills({"b": 1, "a": 2}, "where")) == ["a", "b"]  # sorted, as the router's


@pytest.mark.parametrize(
    ("body", "field"),
    [({"reason": 3}, "reason"), ({"reason": None}, "reason"), ({"reason": "r" * 101}, "reason"),
     ({"why": "x"}, "body"), ([], "body"), ("lunch", "body")],
)  # fmt: skip
def test_pause_errors_keep_their_fields(body: Any, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_pause(body)
    assert caught.value.field == field


def test_pause_reason_is_optional() -> None:
    assert parse_pause(None) == parse_pause({}) == ""
    assert parse_pause({"reason": "lunch"}) == "lunch"


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ('[[queues]]\nname = "café"\n', "queues[0].name"),
        ('[[queues]]\nname = "x"\npriority = 10000000\n', "queues[0].priority"),
        ('[[queues]]\nname = "x"\nwrap_up = nan\n', "queues[0].wrap_up"),
        ('[[queues]]\nname = "x"\nring_timeout = inf\n', "queues[0].ring_timeout"),
        ('[[queues]]\nname = "x"\nescalation = [{after = 1, skils = {a = 1}}]\n',
         "queues[0].escalation[0].skils"),
        ('[[queues]]\nname = "a"\n[[queues]]\nname = "b"\nskills = {a = 11}\n',
         "queues[1].skills.a"),
        ("queues = 3\n", "queues"),
        ("[[agents]]\nid = 1001\n", "agents[0].id"),
        (f'[[agents]]\nid = "1"\nname = "{"n" * 201}"\n', "agents[0].name"),
        ('[[agents]]\nid = "1"\nskills = {a = 1.5}\n', "agents[0].skills.a"),
    ],
)  # fmt: skip
def test_the_config_file_names_the_field(tmp_path: Path, toml: str, field: str) -> None:
    path = tmp_path / "acd.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert caught.value.field == field


def test_the_example_config_loads_through_the_declarations() -> None:
    settings = load_settings(EXAMPLE, env={})
    support = next(q for q in settings.queues if q.name == "support")
    assert [step.after for step in support.escalation] == [30.0, 60.0]
    assert {a.id for a in settings.agents} >= {"1001", "1002", "2001"}


def test_a_queue_carries_its_service_level_target_and_pause_reasons() -> None:
    queue = parse_queue(
        {
            "name": "sales",
            "sl_target": 0.9,
            "pause_reasons": [
                {"code": "lunch", "label": "Lunch"},
                {"code": "07", "label": "Training"},
            ],
        }
    )
    assert queue.sl_target == 0.9
    assert [(r.code, r.label) for r in queue.pause_reasons] == [
        ("lunch", "Lunch"),
        ("07", "Training"),
    ]
    document = queue_to_dict(queue)
    assert document["sl_target"] == 0.9
    assert document["pause_reasons"] == [
        {"code": "lunch", "label": "Lunch"},
        {"code": "07", "label": "Training"},
    ]
    assert json.loads(json.dumps(document)) == document
    assert parse_queue(document) == queue
    defaults = parse_queue({"name": "x"})
    assert (defaults.sl_target, defaults.pause_reasons) == (0.8, ())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sl_target": 0}, "queue.sl_target"),
        ({"sl_target": 1.01}, "queue.sl_target"),
        ({"sl_target": True}, "queue.sl_target"),
        ({"pause_reasons": [{"code": "", "label": "x"}]}, "queue.pause_reasons[0].code"),
        ({"pause_reasons": [{"code": "a" * 17, "label": "x"}]}, "queue.pause_reasons[0].code"),
        ({"pause_reasons": [{"code": "a b", "label": "x"}]}, "queue.pause_reasons[0].code"),
        ({"pause_reasons": [{"code": "a", "label": ""}]}, "queue.pause_reasons[0].label"),
        ({"pause_reasons": [{"code": "a", "label": "x" * 41}]}, "queue.pause_reasons[0].label"),
        ({"pause_reasons": [{"code": "a"}]}, "queue.pause_reasons[0].label"),
        (
            {"pause_reasons": [{"code": "a", "label": "x"}, {"code": "a", "label": "y"}]},
            "queue.pause_reasons",
        ),
    ],
)
def test_bad_targets_and_pause_reasons_are_refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_queue({"name": "q", **body})
    assert caught.value.field == field
