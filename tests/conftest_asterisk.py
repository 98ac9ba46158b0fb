"""The `asterisk` fixture: a real Asterisk instance per test process (per xdist worker).

Each worker gets its own instance on freshly picked loopback ports (AMI, SIP, RTP range and a
free FastAGI port the controller under test binds); it is removed at the end of the session.
Tests using the fixture are marked `asterisk` automatically, so `-m 'not asterisk'` skips them.
When Asterisk cannot be installed the fixture fails under CI=true and skips with the reason on
a developer machine. ACD_KEEP_ASTERISK=1 keeps the instance directory (logs, rendered config).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from acd.asterisk.install import Installation, InstallError, install
from acd.asterisk.testing import (
    RunningAsterisk,
    prune_stale_test_instances,
    start_with_free_ports,
    unique_test_name,
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if ("asterisk" in fixtures or "asterisk_installation" in fixtures) and not any(
            item.iter_markers("asterisk")
        ):
            item.add_marker(pytest.mark.asterisk)


@pytest.fixture(scope="session")
def asterisk_installation() -> Installation:
    """The installed Asterisk (installing it if needed, as `acd asterisk install` does)."""
    use_host = os.environ.get("ACD_ASTERISK_NO_HOST", "") != "1"
    try:
        return install(use_host=use_host).installation
    except InstallError as exc:
        message = f"Asterisk is not available: {exc}"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def asterisk(asterisk_installation: Installation, worker_id: str) -> Iterator[RunningAsterisk]:
    """A running Asterisk for this test process: `.ports`, `.ami_port`, `.ami_username` and
    `.ami_secret` (the controller's account), `.observer_username`/`.observer_secret` (a
    test's own unfiltered sessions), `.agi_port` (free for the controller), `.agi_secret`
    (the FastAGI key its dialplan passes) and `.instance` (cli(), logs). The secrets are
    generated for this instance and removed with it."""
    prune_stale_test_instances(asterisk_installation)
    running = start_with_free_ports(asterisk_installation, unique_test_name(worker_id))
    try:
        yield running
    finally:
        if os.environ.get("ACD_KEEP_ASTERISK") == "1":  # keep logs and config to debug
            running.instance.stop()
        else:
            running.instance.remove()
