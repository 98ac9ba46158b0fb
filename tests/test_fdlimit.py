"""`acd serve` raises its soft open-files limit to the hard one (acd.fdlimit)."""

from __future__ import annotations

import resource

import pytest

from acd.fdlimit import raise_open_files_limit


def test_the_soft_limit_is_raised_to_the_hard_limit(caplog: pytest.LogCaptureFixture) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard < 64:
        pytest.skip(f"hard limit {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        with caplog.at_level("INFO", logger="acd.fdlimit"):
            assert raise_open_files_limit() == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
        assert f"from 64 to the hard limit {hard}" in caplog.text
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
