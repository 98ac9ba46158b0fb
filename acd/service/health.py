"""Readiness: the controller's AMI link is up and the router's state is synced to it."""

from __future__ import annotations

from typing import Protocol


class ControllerStatus(Protocol):
    @property
    def ami_connected(self) -> bool: ...
    @property
    def ready(self) -> bool: ...


class HealthService:
    """Ready means the controller's AMI link is up and the router's state is synced to it."""

    def __init__(self) -> None:
        self._controller: ControllerStatus | None = None

    def attach(self, controller: ControllerStatus | None) -> None:
        self._controller = controller

    def readiness(self) -> dict[str, bool]:
        controller = self._controller
        connected = bool(controller is not None and controller.ami_connected)
        synced = bool(controller is not None and controller.ready)
        return {
            "controller": controller is not None,
            "ami_connected": connected,
            "state_synced": synced,
        }
