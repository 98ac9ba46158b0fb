"""The recording rig as a fixture (see recording_rig.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from recording_rig import FakeClock, Rig, build_rig, close_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    built = await build_rig(tmp_path, FakeClock())
    try:
        yield built
    finally:
        await close_rig(built)
