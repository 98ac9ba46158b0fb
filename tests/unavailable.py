"""When a tool or service a test needs is missing: skip with the reason on a developer
machine, fail under CI (CI has every service and tool, and a skip there would count as a
pass)."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
