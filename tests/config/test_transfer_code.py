"""A queue's transfer_code: the digits an agent keys after *8 to hand a caller on into it."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import ConfigError, load_settings, parse_queue, queue_to_dict


def test_none_by_default_and_kept_when_given() -> None:
    assert parse_queue({"name": "q"}).transfer_code is None
    queue = parse_queue({"name": "billing", "transfer_code": "22"})
    assert queue.transfer_code == "22"
    assert queue_to_dict(queue)["transfer_code"] == "22"
    assert parse_queue(queue_to_dict(queue)) == queue


@pytest.mark.parametrize("code", ["", "1234567", "2a", "*8", "#", 22, " 22"])
def test_digits_only_one_to_six(code: object) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_queue({"name": "q", "transfer_code": code})
    assert raised.value.field == "queue.transfer_code"


def test_two_queues_of_the_file_may_not_share_a_code(tmp_path: Path) -> None:
    path = tmp_path / "acd.toml"
    path.write_text(
        '[[queues]]\nname = "a"\ntransfer_code = "1"\n'
        '[[queues]]\nname = "b"\ntransfer_code = "2"\n'
        '[[queues]]\nname = "c"\ntransfer_code = "1"\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    assert raised.value.field == "queues[2].transfer_code"
    assert "'a'" in raised.value.message
    path.write_text('[[queues]]\nname = "a"\ntransfer_code = "1"\n[[queues]]\nname = "b"\n')
    assert [q.transfer_code for q in load_settings(path, env={}).queues] == ["1", None]
