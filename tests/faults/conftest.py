"""Fixtures of the fault tests: `acd serve` as a process on the worker's Asterisk, and a probe.

ACD_FAULTS_SOURCE=<dir> runs `python -m acd serve` from that tree (e.g. `git archive HEAD`
unpacked) instead of the installed package, to measure one commit while the working tree moves.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from acd.asterisk.testing import RunningAsterisk

from .harness import ControllerProcess, Probe


@pytest.fixture
async def probe(asterisk: RunningAsterisk) -> AsyncIterator[Probe]:
    """A second AMI login; hangs up every channel of the instance at the end of the test."""
    watcher = Probe(asterisk)
    await watcher.start()
    try:
        yield watcher
    finally:
        await watcher.close(hangup=True)


@pytest.fixture
async def controller_process(
    asterisk: RunningAsterisk, tmp_path: Path
) -> AsyncIterator[Callable[..., ControllerProcess]]:
    """A factory: `controller_process(queues=[...], agents=[...])` → a ControllerProcess (not
    started) in its own directory under tmp_path. Every one is stopped after the test."""
    made: list[ControllerProcess] = []
    serial = itertools.count(1)
    source = os.environ.get("ACD_FAULTS_SOURCE")

    def make(**options: Any) -> ControllerProcess:
        if source:
            options.setdefault("source", Path(source))
        process = ControllerProcess(asterisk, tmp_path / f"acd-{next(serial)}", **options)
        made.append(process)
        return process

    try:
        yield make
    finally:
        for process in made:
            await process.close()
