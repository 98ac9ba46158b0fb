"""Until `acd serve` runs as a cluster node, a `[cluster]` setting stops it at start: two
processes each configured for the cluster would otherwise both act on the same Asterisk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "acd.toml"
    config.write_text(f'[storage]\nvar_dir = "{tmp_path / "var"}"\n[http]\nport = 0\n')
    return subprocess.run(
        [sys.executable, "-m", "acd", "serve", "--config", str(config)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_cluster_setting_is_refused_until_the_node_can_be_one(tmp_path: Path) -> None:
    done = _serve(tmp_path, ACD_CLUSTER_REDIS_URL="redis://127.0.0.1:6379/0")
    assert done.returncode == 2, done.stderr
    assert "[cluster]" in done.stderr, done.stderr
    assert "refusing to start" in done.stderr, done.stderr
    assert not (tmp_path / "var").exists()  # refused before anything was created
