"""The `ami` fixture: an AMI session on the session's Asterisk, logged in as the test
observer (unfiltered; the controller's `acd` user has event filters and fewer classes)."""

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
        pytest.fail(f"AMI login as {asterisk.observer_username} refused on {asterisk.ami_port}")
    session = AmiSession(manager)
    try:
        yield session
    finally:
        with contextlib.suppress(Exception):
            manager.close()
