from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from acd.asterisk.testing import RunningAsterisk

from .harness import Acd


@pytest.fixture
async def acd(asterisk: RunningAsterisk) -> AsyncIterator[Acd]:
    harness = Acd(asterisk)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
