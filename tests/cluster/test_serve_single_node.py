"""A `[cluster]` node shares the PostgreSQL store: with SQLite `acd serve` stops at start
(exit 2) before it creates anything, so two nodes never each write their own store."""

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


def test_a_cluster_node_on_sqlite_is_refused(tmp_path: Path) -> None:
    done = _serve(tmp_path, ACD_CLUSTER_REDIS_URL="redis://127.0.0.1:6379/0")
    assert done.returncode == 2, done.stderr
    assert "storage.url" in done.stderr, done.stderr
    assert "PostgreSQL" in done.stderr, done.stderr
    assert not (tmp_path / "var").exists()  # refused before anything was created
