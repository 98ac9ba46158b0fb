"""FallbackPublisher with a scripted AMI: which globals it sets, when, and what it does when
the link fails. On the real Asterisk: tests/asterisk/test_dialplan_down.py and
tests/faults/test_controller_down.py."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from acd.controller.ami import AmiError, AmiResponse
from acd.controller.effects import TaskSet
from acd.controller.fallback import FallbackPublisher, published_values
from acd.engine import Engine
from acd.router.events import QueueRemoved, QueueUpserted
from acd.router.model import QueueConfig
from acd.router.router import Router


class ScriptedAmi:
    """Answers every action with success (or `fail` with an AmiError); keeps the globals."""

    def __init__(self) -> None:
        self.logged_in = True
        self.actions: list[dict[str, str]] = []
        self.globals: dict[str, str] = {}
        self.fail: str | None = None
        self.refuse = False

    async def request(
        self, action: Mapping[str, str | Sequence[str]], within: float = 5.0
    ) -> AmiResponse:
        sent = {k: str(v) for k, v in action.items()}
        self.actions.append(sent)
        await asyncio.sleep(0)
        if self.fail is not None:
            raise AmiError(sent["Action"], self.fail)
        if self.refuse:
            return AmiResponse(False, "Permission denied", {})
        assert sent["Action"] == "Setvar", sent
        assert "Channel" not in sent, sent  # no channel: a global
        self.globals[sent["Variable"]] = sent["Value"]
        return AmiResponse(True, "Variable Set", {})


@pytest.fixture
async def rig() -> tuple[Engine, ScriptedAmi, FallbackPublisher, TaskSet]:
    engine = Engine(Router())
    ami = ScriptedAmi()
    tasks = TaskSet()
    publisher = FallbackPublisher(engine.router, ami, tasks)
    engine.add_listener(publisher)
    return engine, ami, publisher, tasks


async def _settle(tasks: TaskSet) -> None:
    for _ in range(20):
        if not len(tasks):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("publishing never finished")


def test_what_a_queue_publishes() -> None:
    assert published_values(None) == ("", "0")
    assert published_values(QueueConfig("q")) == ("", "0")
    assert published_values(QueueConfig("q", fallback="acd-fallback,s,1")) == ("", "0")
    queue = QueueConfig("q", fallback=" acd-fallback,s,1 ", fallback_after=12.5)
    assert published_values(queue) == ("acd-fallback,s,1", "12.5")
    assert published_values(QueueConfig("q", fallback="ctx,s,1", fallback_after=60)) == (
        "ctx,s,1",
        "60",
    )


@pytest.mark.parametrize("target", ["acd-fallback", "ctx,s", "ctx,s,1,2", "c x,s,1", "${X},s,1"])
def test_a_target_the_dialplan_could_not_go_to_is_not_published(target: str) -> None:
    assert published_values(QueueConfig("q", fallback=target, fallback_after=5)) == ("", "0")


async def test_resync_publishes_every_queue(
    rig: tuple[Engine, ScriptedAmi, FallbackPublisher, TaskSet],
) -> None:
    engine, ami, publisher, _tasks = rig
    router = engine.router
    router.handle(QueueUpserted(0, QueueConfig("support", fallback="fb,s,1", fallback_after=30)))
    router.handle(QueueUpserted(0, QueueConfig("sales")))
    assert await publisher.resync() == 2
    assert ami.globals == {
        "ACD_FALLBACK_sales": "",
        "ACD_FALLBACK_AFTER_sales": "0",
        "ACD_FALLBACK_support": "fb,s,1",
        "ACD_FALLBACK_AFTER_support": "30",
    }


async def test_queue_changes_are_published_and_other_changes_cost_nothing(
    rig: tuple[Engine, ScriptedAmi, FallbackPublisher, TaskSet],
) -> None:
    engine, ami, _publisher, tasks = rig
    engine.start()
    try:
        queue = QueueConfig("support", fallback="fb,s,1", fallback_after=5)
        await engine.submit(lambda now: QueueUpserted(now, queue))
        await _settle(tasks)
        assert ami.globals["ACD_FALLBACK_support"] == "fb,s,1"
        assert ami.globals["ACD_FALLBACK_AFTER_support"] == "5"
        sent = len(ami.actions)
        # A change of another setting: the globals already hold the right values.
        await engine.submit(
            lambda now: QueueUpserted(
                now, QueueConfig("support", fallback="fb,s,1", fallback_after=5, wrap_up=1)
            )
        )
        await _settle(tasks)
        assert len(ami.actions) == sent
        await engine.submit(lambda now: QueueRemoved(now, "support"))
        await _settle(tasks)
        assert ami.globals["ACD_FALLBACK_support"] == ""
        assert ami.globals["ACD_FALLBACK_AFTER_support"] == "0"
    finally:
        await engine.stop()


async def test_changes_while_the_link_is_down_wait_for_the_next_login(
    rig: tuple[Engine, ScriptedAmi, FallbackPublisher, TaskSet],
) -> None:
    engine, ami, publisher, tasks = rig
    engine.start()
    try:
        queue = QueueConfig("support", fallback="fb,s,1", fallback_after=5)
        await engine.submit(lambda now: QueueUpserted(now, queue))
        await _settle(tasks)
        ami.logged_in = False
        await engine.submit(lambda now: QueueRemoved(now, "support"))
        await engine.submit(lambda now: QueueUpserted(now, QueueConfig("sales")))
        await _settle(tasks)
        assert "ACD_FALLBACK_sales" not in ami.globals
        assert ami.globals["ACD_FALLBACK_support"] == "fb,s,1"  # stale until the login
        ami.logged_in = True
        # The removed queue is cleared too: its name was published before.
        assert await publisher.resync() == 2
        assert ami.globals["ACD_FALLBACK_support"] == ""
        assert ami.globals["ACD_FALLBACK_sales"] == ""
    finally:
        await engine.stop()


async def test_a_failed_publication_is_logged_and_sent_again(
    rig: tuple[Engine, ScriptedAmi, FallbackPublisher, TaskSet],
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine, ami, publisher, tasks = rig
    engine.router.handle(
        QueueUpserted(0, QueueConfig("support", fallback="fb,s,1", fallback_after=5))
    )
    ami.fail = "no response in 5 s"
    assert await publisher.resync() == 0  # never raises: the controller's resync goes on
    assert "fallback" in caplog.text
    ami.refuse, ami.fail = True, None
    assert await publisher.resync() == 1
    assert "refused" in caplog.text
    ami.refuse = False
    # Nothing is believed sent: a change of another setting publishes again.
    engine.start()
    try:
        await engine.submit(
            lambda now: QueueUpserted(
                now, QueueConfig("support", fallback="fb,s,1", fallback_after=5, wrap_up=2)
            )
        )
        await _settle(tasks)
        assert ami.globals["ACD_FALLBACK_support"] == "fb,s,1"
    finally:
        await engine.stop()
