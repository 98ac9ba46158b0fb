"""`acd asterisk start|status|stop` on a named instance, and the fixture's fail/skip rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from acd.asterisk.install import Installation
from acd.asterisk.instance import AsteriskInstance
from acd.asterisk.ports import AsteriskPorts
from acd.asterisk.testing import unique_test_name

TESTS_DIR = Path(__file__).resolve().parents[1]


def _acd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acd", "asterisk", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


@pytest.mark.asterisk
def test_start_status_stop_a_named_instance(asterisk_installation: Installation) -> None:
    name = unique_test_name("cli")
    ports = AsteriskPorts.pick_free()
    instance = AsteriskInstance(asterisk_installation, name, ports)
    try:
        started = _acd(
            "start",
            f"--name={name}",
            f"--ami-port={ports.ami}",
            f"--sip-port={ports.sip}",
            f"--rtp-start={ports.rtp_start}",
            f"--rtp-end={ports.rtp_end}",
            f"--agi={ports.agi_address}",
        )
        assert started.returncode == 0, started.stderr
        assert f"AMI 127.0.0.1:{ports.ami}" in started.stdout
        assert instance.is_running()  # it outlived the command that started it

        status = _acd("status", f"--name={name}")
        assert status.returncode == 0, status.stderr
        assert f"SIP udp 127.0.0.1:{ports.sip}" in status.stdout

        stopped = _acd("stop", f"--name={name}")
        assert stopped.returncode == 0, stopped.stderr
        assert not instance.is_running()
        assert _acd("status", f"--name={name}").returncode == 3
    finally:
        instance.remove()


def test_start_with_a_malformed_agi_address_is_a_clear_error() -> None:
    done = _acd("start", "--name=never", "--agi=nonsense")
    assert done.returncode == 1
    assert "expected HOST:PORT" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_fixture_fails_in_ci_and_skips_elsewhere_without_asterisk(
    tmp_path: Path, ci: str, outcome: str
) -> None:
    (tmp_path / "test_needs_asterisk.py").write_text("def test_it(asterisk):\n    pass\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["conftest_asterisk"]\n')
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = {
        **os.environ,
        "CI": ci,
        "ACD_ASTERISK_NO_HOST": "1",
        "ACD_ASTERISK_ROOT": str(tmp_path / "root"),
        "ACD_CACHE_DIR": str(blocker / "cache"),  # cannot be created: install fails
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert outcome in done.stdout, done.stdout
    assert "Asterisk is not available" in done.stdout
