"""Readiness: the controller's AMI link is up and the router's state is synced to it."""

from __future__ import annotations

from typing import Any, Protocol


class ControllerStatus(Protocol):
    @property
    def ami_connected(self) -> bool: ...
    @property
    def ready(self) -> bool: ...


class ClusterStatus(Protocol):
    @property
    def node_id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def following(self) -> bool: ...


class HealthService:
    """Ready means the controller's AMI link is up and the router's state is synced to it; on
    a cluster's standby, that its replica follows the journal."""

    def __init__(self, cluster: ClusterStatus | None = None) -> None:
        self._controller: ControllerStatus | None = None
        self.cluster = cluster

    def attach(self, controller: ControllerStatus | None) -> None:
        self._controller = controller

    def readiness(self) -> dict[str, bool]:
        controller = self._controller
        connected = bool(controller is not None and controller.ami_connected)
        synced = bool(controller is not None and controller.ready)
        checks = {
            "controller": controller is not None,
            "ami_connected": connected,
            "state_synced": synced,
        }
        if self.cluster is not None and self.cluster.role == "standby":
            checks["replica_following"] = self.cluster.following
        return checks

    def report(self) -> tuple[dict[str, Any], bool]:
        """`/readyz`'s body (status, a cluster node's role and name, the checks) and whether
        it is ready."""
        checks = self.readiness()
        if "replica_following" in checks:
            ready = checks["replica_following"]
        else:
            ready = checks["ami_connected"] and checks["state_synced"]
        role = {} if self.cluster is None else {
            "role": self.cluster.role, "node": self.cluster.node_id
        }  # fmt: skip
        return {"status": "ready" if ready else "not_ready", **role, "checks": checks}, ready
