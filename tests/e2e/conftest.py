from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from controller.harness import Acd

from acd.asterisk.testing import RunningAsterisk

from .softphone import SoftphoneHost


@pytest.fixture
async def acd(asterisk: RunningAsterisk) -> AsyncIterator[Acd]:
    harness = Acd(asterisk)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
async def phones(asterisk: RunningAsterisk) -> AsyncIterator[SoftphoneHost]:
    host = SoftphoneHost(asterisk.sip_port)
    await host.start()
    try:
        yield host
    finally:
        await host.stop()
