"""A real Asterisk for development, tests and the demo: installation and instances."""

from acd.asterisk.install import (
    Installation,
    InstallError,
    InstallResult,
    InstallSource,
    find_installation,
    install,
)
from acd.asterisk.instance import AsteriskError, AsteriskInstance, PortInUseError
from acd.asterisk.ports import AsteriskPorts

__all__ = [
    "AsteriskError",
    "AsteriskInstance",
    "AsteriskPorts",
    "InstallError",
    "InstallResult",
    "InstallSource",
    "Installation",
    "PortInUseError",
    "find_installation",
    "install",
]
