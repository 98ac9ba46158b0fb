"""A queue's exit key: one DTMF key that takes a waiting caller out of the queue to a
dialplan target (`exit_key`, `exit_target`), validated with the queue document.

The schema's side of the same rules: tests/api/test_api_documents.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from acd.config import ConfigError, QueueInput, parse_queue, queue_to_dict


def test_no_exit_key_by_default() -> None:
    queue = parse_queue({"name": "q"})
    assert (queue.exit_key, queue.exit_target) == (None, None)


@pytest.mark.parametrize("key", [*"0123456789", "*", "#"])
def test_any_one_dtmf_key_with_a_target(key: str) -> None:
    # `1` is the callback key: free for the exit only where callbacks are off.
    body = {"name": "q", "exit_key": key, "exit_target": "vm,s,1", "callback": key != "1"}
    queue = parse_queue(body)
    assert (queue.exit_key, queue.exit_target) == (key, "vm,s,1")
    document = queue_to_dict(queue)
    assert (document["exit_key"], document["exit_target"]) == (key, "vm,s,1")
    assert json.loads(json.dumps(document)) == document
    assert parse_queue(document) == queue


def test_a_target_without_a_key_is_kept_and_unused() -> None:
    # Turning the key off (null) need not lose the target.
    queue = parse_queue({"name": "q", "exit_target": "ivr,main,start"})
    assert (queue.exit_key, queue.exit_target) == (None, "ivr,main,start")


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"exit_key": "#"}, "queue.exit_target", "exit_key"),
        ({"exit_key": "#", "exit_target": None}, "queue.exit_target", "exit_key"),
        ({"exit_key": "1", "exit_target": "vm,s,1"}, "queue.exit_key", "callback"),
        (
            {"exit_key": "1", "exit_target": "vm,s,1", "callback": True},
            "queue.exit_key",
            "callback",
        ),
        ({"exit_key": "12", "exit_target": "vm,s,1"}, "queue.exit_key", ""),
        ({"exit_key": "", "exit_target": "vm,s,1"}, "queue.exit_key", ""),
        ({"exit_key": "A", "exit_target": "vm,s,1"}, "queue.exit_key", ""),
        ({"exit_key": 5, "exit_target": "vm,s,1"}, "queue.exit_key", ""),
        ({"exit_key": "#\n", "exit_target": "vm,s,1"}, "queue.exit_key", ""),
        ({"exit_key": "#", "exit_target": "voicemail"}, "queue.exit_target", "dialplan target"),
        ({"exit_key": "#", "exit_target": "vm,s"}, "queue.exit_target", "dialplan target"),
        ({"exit_key": "#", "exit_target": 'vm,s,1" | "1'}, "queue.exit_target", ""),
        ({"exit_key": "#", "exit_target": ""}, "queue.exit_target", ""),
    ],
)
def test_bad_exit_settings_are_refused_naming_the_field(
    body: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_queue({"name": "q", **body})
    assert caught.value.field == field
    assert says in caught.value.message


def test_the_schema_states_the_key_the_target_and_their_pairing() -> None:
    schema = QueueInput.model_json_schema()
    key = schema["properties"]["exit_key"]
    assert {"type": "string", "pattern": "^[0-9*#]$"} in key["anyOf"]
    target = schema["properties"]["exit_target"]
    assert any("pattern" in option for option in target["anyOf"])
    assert "allOf" in schema  # key → target required; key 1 → callback false
