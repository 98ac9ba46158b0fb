"""Starting throw-away Asterisk instances for tests (the pytest plugin in
tests/conftest_asterisk.py builds on this; benchmarks may use it directly)."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from acd.asterisk.install import Installation
from acd.asterisk.instance import (
    INSTANCES_DIR,
    OBSERVER_USERNAME,
    AsteriskInstance,
    PortInUseError,
)
from acd.asterisk.ports import LOOPBACK, AsteriskPorts

#: The AMI user asterisk-config/manager.conf defines (acd.config's default); its secret is the
#: instance's own, generated in `<instance dir>/secrets/`.
AMI_USERNAME = "acd"
TEST_PREFIX = "test-"
#: A stale test instance directory (its process gone) older than this is removed.
STALE_AFTER_SECONDS = 600


@dataclass(frozen=True, slots=True)
class RunningAsterisk:
    """A started instance and how to reach it. The FastAGI port is free for the controller
    under test to bind; the dialplan's ACD_AGI points at it. `ami_username`/`ami_secret` are
    the controller's account (event filters, no `system`); a test's own sessions log in as
    the observer (`observer_username`/`observer_secret`: unfiltered, the old classes)."""

    instance: AsteriskInstance
    ports: AsteriskPorts
    ami_host: str = LOOPBACK
    ami_username: str = AMI_USERNAME
    observer_username: str = OBSERVER_USERNAME

    @property
    def ami_secret(self) -> str:
        return self.instance.ami_secret

    @property
    def observer_secret(self) -> str:
        return self.instance.observer_secret

    @property
    def agi_secret(self) -> str:
        """The FastAGI key this instance's dialplan passes with every request."""
        return self.instance.agi_secret

    @property
    def ami_port(self) -> int:
        return self.ports.ami

    @property
    def sip_port(self) -> int:
        return self.ports.sip

    @property
    def agi_host(self) -> str:
        return self.ports.agi_host

    @property
    def agi_port(self) -> int:
        return self.ports.agi_port


def start_with_free_ports(
    installation: Installation, name: str, attempts: int = 5, timeout: float = 30.0
) -> RunningAsterisk:
    """Start instance `name` on freshly picked free ports, picking again if another process
    grabbed a port between the pick and Asterisk's bind."""
    for attempt in range(1, attempts + 1):
        ports = AsteriskPorts.pick_free()
        instance = AsteriskInstance(installation, name, ports, observer=True)
        try:
            instance.start(timeout)
        except PortInUseError:
            if attempt == attempts:
                raise
            continue
        return RunningAsterisk(instance, ports)
    raise AssertionError("unreachable")


def unique_test_name(worker: str) -> str:
    return f"{TEST_PREFIX}{worker}-{os.getpid()}"


def prune_stale_test_instances(installation: Installation) -> list[str]:
    """Remove test instance directories left by killed test runs (process gone, old)."""
    removed: list[str] = []
    now = time.time()
    # A chrooted Asterisk's instances live in the root, their secrets on the host (instance.py).
    bases = dict.fromkeys((installation.host_path(INSTANCES_DIR), Path(INSTANCES_DIR)))
    for path in (path for base in bases if base.is_dir() for path in base.iterdir()):
        if not path.name.startswith(TEST_PREFIX) or not path.is_dir():
            continue
        try:
            age = now - path.stat().st_mtime
            instance = AsteriskInstance(installation, path.name)
        except (OSError, ValueError):
            continue
        if age > STALE_AFTER_SECONDS and not instance.is_running():
            shutil.rmtree(path, ignore_errors=True)
            shutil.rmtree(instance.secrets_dir.parent, ignore_errors=True)
            removed.append(path.name)
    return removed
