"""The example configuration gives its queues pause reasons whose codes a softphone can dial
(`*73<digits>` pauses with the digits as the reason) and an explicit objective."""

from __future__ import annotations

from pathlib import Path

from acd.config import load_settings

EXAMPLE = Path(__file__).parents[2] / "acd.example.toml"


def test_every_example_queue_offers_dialable_pause_reasons() -> None:
    settings = load_settings(EXAMPLE, env={})
    assert settings.queues
    for queue in settings.queues:
        assert queue.pause_reasons, queue.name
        assert all(reason.code.isdigit() for reason in queue.pause_reasons), queue.name
        assert 0 < queue.sl_target <= 1
