"""`acd serve` with its FastAGI port taken by another process (a local user squatting it while
the controller was down: whoever listens there talks to the callers' channels) refuses to start
at once, naming the port, instead of running without FastAGI until Asterisk's AMI answers."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from acd.compose import assemble

LOOPBACK = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def test_a_taken_fastagi_port_stops_acd_serve_at_once(tmp_path: Path) -> None:
    assert assemble  # the controller of this source tree
    squatter = socket.socket()
    squatter.bind((LOOPBACK, 0))
    squatter.listen()
    agi_port = squatter.getsockname()[1]
    config = tmp_path / "acd.toml"
    config.write_text(
        f"""
[ami]
host = "{LOOPBACK}"
port = {_free_port()}
secret = "ami-secret-for-the-test"
[agi]
host = "{LOOPBACK}"
port = {agi_port}
secret = "{"k" * 43}"
[http]
host = "{LOOPBACK}"
port = {_free_port()}
[storage]
url = ""
var_dir = "{tmp_path / "var"}"
"""
    )
    try:
        # No Asterisk at all: the AMI port is closed, so the AMI login never happens.
        run = subprocess.run(
            [sys.executable, "-m", "acd", "serve", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=Path(__file__).resolve().parents[2],
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError("acd serve kept running with its FastAGI port taken") from exc
    finally:
        squatter.close()
    assert run.returncode != 0
    assert f"FastAGI port {LOOPBACK}:{agi_port}" in run.stderr
    assert "taken" in run.stderr
    assert "Traceback" not in run.stderr
    # Before anything else, the soft open-files limit went up to the hard one (acd.fdlimit).
    assert "open files limit" in run.stderr
