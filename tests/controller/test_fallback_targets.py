"""A queue's fallback is published as an Asterisk global only when it is a dialplan target
(`check_target`, the one grammar): whatever let it into the router (a row stored before the
rules, a future path), the dialplan's Goto() never gets it. Each target below passed the
publisher's own looser check before and was sent to Asterisk as it is."""

from __future__ import annotations

import logging

import pytest

from acd.controller.effects import TaskSet
from acd.controller.fallback import FallbackPublisher, published_values
from acd.engine import Engine
from acd.router.events import QueueUpserted
from acd.router.model import QueueConfig
from acd.router.router import Router

from .test_fallback import ScriptedAmi

NOT_TARGETS = [
    "ctx,s,1&x",
    "ctx,s,1|x",
    "ct'x,s,1",
    "ctx,s,0",
    "ctx,s,-1",
    "ctx,s,99999999",
    "ctx,é,1",
    "ctx,s,1`id`",
]


@pytest.mark.parametrize("target", NOT_TARGETS)
def test_a_fallback_outside_the_target_grammar_is_not_published(target: str) -> None:
    assert published_values(QueueConfig("q", fallback=target, fallback_after=5)) == ("", "0")


async def test_resync_publishes_no_fallback_for_such_a_queue_and_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = Engine(Router())
    ami = ScriptedAmi()
    publisher = FallbackPublisher(engine.router, ami, TaskSet())
    engine.router.handle(
        QueueUpserted(0, QueueConfig("q", fallback=NOT_TARGETS[0], fallback_after=5))
    )
    engine.router.handle(QueueUpserted(0, QueueConfig("ok", fallback="fb,s,1", fallback_after=5)))
    with caplog.at_level(logging.WARNING, logger="acd.controller.fallback"):
        assert await publisher.resync() == 2
    assert ami.globals["ACD_FALLBACK_q"] == ""
    assert ami.globals["ACD_FALLBACK_AFTER_q"] == "0"
    assert ami.globals["ACD_FALLBACK_ok"] == "fb,s,1"
    assert any(
        "queue q" in r.getMessage() and "not published" in r.getMessage() for r in caplog.records
    )
