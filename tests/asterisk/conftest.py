"""The `ami` fixture: an AMI session on the session's Asterisk, logged in as `acd`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from ami_session import AmiSession, login

from acd.asterisk.testing import RunningAsterisk


@pytest.fixture
async def ami(asterisk: RunningAsterisk) -> AsyncIterator[AmiSession]:
    manager = await login(asterisk)
    if not manager.authenticated:
        manager.close()
        pytest.fail(f"AMI login as {asterisk.ami_username} refused on port {asterisk.ami_port}")
    session = AmiSession(manager)
    try:
        yield session
    finally:
        with contextlib.suppress(Exception):
            manager.close()
