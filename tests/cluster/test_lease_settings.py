"""`[cluster]` settings: absent means a single node; present, they are checked."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from acd.config.documents import ConfigError
from acd.config.settings import ClusterSettings, load_settings

EXAMPLE = Path(__file__).parents[2] / "acd.example.toml"
#: A cluster's nodes share a PostgreSQL store (SQLite is refused with [cluster]).
PG = {"ACD_STORAGE_URL": "postgresql+asyncpg://postgres@127.0.0.1/test"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acd.toml"
    path.write_text(text)
    return path


def test_without_a_cluster_section_or_url_the_node_is_alone() -> None:
    assert load_settings(env={}).cluster is None
    assert load_settings(EXAMPLE, env={}).cluster is None


def test_the_example_block_uncommented_is_valid(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    start = text.index("# [cluster]")
    block = []
    for line in text[start:].splitlines():
        if not line.startswith("# "):
            break
        block.append(line[2:])
    cluster = load_settings(write(tmp_path, "\n".join(block)), env=PG).cluster
    assert cluster is not None
    assert cluster.redis_url == "redis://127.0.0.1:6379/0"
    assert (cluster.api_url, cluster.agi_address) == ("http://127.0.0.1:8080", "127.0.0.1:4573")
    assert (cluster.lease_ttl, cluster.renew_every, cluster.lease_margin) == (3.0, 1.0, 0.5)


def test_the_url_alone_in_the_environment_turns_the_cluster_on() -> None:
    cluster = load_settings(env={"ACD_CLUSTER_REDIS_URL": "redis://10.0.0.5:6379/2", **PG}).cluster
    assert cluster == ClusterSettings(
        redis_url="redis://10.0.0.5:6379/2",
        node_id=f"{socket.gethostname()}-{os.getpid()}",
        api_url="http://127.0.0.1:8080",
        agi_address="127.0.0.1:4573",
    )


def test_a_cluster_needs_the_shared_postgresql_store() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"ACD_CLUSTER_REDIS_URL": "redis://10.0.0.5:6379/2"})
    assert caught.value.field == "storage.url"
    assert "PostgreSQL" in str(caught.value)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[cluster]\nredis_url = "redis://a"\nnode_id = "n1"\nlease_ttl = 4\n')
    env = {"ACD_CLUSTER_NODE_ID": "n2", "ACD_CLUSTER_RENEW_EVERY": "1.5", **PG}
    cluster = load_settings(path, env=env).cluster
    assert cluster is not None
    assert (cluster.node_id, cluster.lease_ttl, cluster.renew_every) == ("n2", 4.0, 1.5)
    assert isinstance(cluster.lease_ttl, float)


@pytest.mark.parametrize(
    ("toml", "env", "where", "message"),
    [
        ("[cluster]\n", {}, "cluster.redis_url", "required"),
        ('[cluster]\nredis_url = "http://x"\n', {}, "cluster.redis_url", "redis://"),
        ("", {"ACD_CLUSTER_REDIS_URL": "redis://"}, "cluster.redis_url", "redis://"),
        ('[cluster]\nredis_url = "redis://x"\nnode = "a"\n', {}, "cluster.node", "unknown"),
        ('[cluster]\nredis_url = "redis://x"\nnode_id = "a:b"\n', {}, "cluster.node_id", "A-Z"),
        ('[cluster]\nredis_url = "redis://x"\nrenew_every = 2.5\n', {}, "cluster", "less than"),
        ('[cluster]\nredis_url = "redis://x"\nlease_ttl = -3\n', {}, "cluster", "positive"),
        ('[cluster]\nredis_url = "redis://x"\nlease_ttl = "3"\n', {}, "cluster", "number"),
        ("", {"ACD_CLUSTER_REDIS_URL": "redis://x", "ACD_CLUSTER_LEASE_TTL": "x"},
         "ACD_CLUSTER_LEASE_TTL", "number"),
        ('[cluster]\nredis_url = "redis://x"\nkey_prefix = ""\n', {}, "cluster.key_prefix", "1-64"),
        ('cluster = 3\n', {}, "cluster", "table"),
        ('[cluster]\nredis_url = "redis://x"\nsnapshot_every = 0\n', PG,
         "cluster.snapshot_every", "above 0"),
        ('[cluster]\nredis_url = "redis://x"\napi_url = "ftp://a"\n', PG, "cluster.api_url",
         "http(s)://"),
        ('[cluster]\nredis_url = "redis://x"\napi_url = "http://a/x"\n', PG, "cluster.api_url",
         "http(s)://"),
        ('[cluster]\nredis_url = "redis://x"\nagi_address = "a b:1"\n', PG,
         "cluster.agi_address", "host:port"),
        ('[http]\nhost = "0.0.0.0"\n[cluster]\nredis_url = "redis://x"\n', PG,
         "cluster.api_url", "set [cluster] api_url"),
        ('[agi]\nhost = "::"\n[cluster]\nredis_url = "redis://x"\n', PG,
         "cluster.agi_address", "set [cluster] agi_address"),
    ],
)  # fmt: skip
def test_bad_cluster_settings_get_a_clear_error(
    tmp_path: Path, toml: str, env: dict[str, str], where: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, toml), env=env)
    assert str(caught.value).startswith(f"{where}:")
    assert message in str(caught.value)
