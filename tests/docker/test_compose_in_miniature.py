"""The compose file's production set-up without Docker: the Asterisk image's root (installed by
docker/install-asterisk.sh, `asterisk_image_root`) started by its ENTRYPOINT on the config the
`asterisk-config` service renders, and both controller nodes as the controller image runs them
(ENTRYPOINT docker/controller-entrypoint.sh + CMD from the install-controller.sh prefix), with
controller-1's and controller-2's own environment from compose.yaml and the secrets
docker/make-secrets.sh writes. Service names become 127.0.0.1 and ports free ones (the chroot
shares the host's network); PostgreSQL and Redis are this machine's (a database and a key
prefix of this test alone), as the HA tests use them. Then what Docker would check: each
image's HEALTHCHECK command passes, one node leads and one stands by, both /readyz 200, the
admin token from its secret file opens the API on both nodes (a standby forwards the write)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.asterisk.install import write_network_files
from acd.asterisk.ports import AsteriskPorts, free_port

from . import dockerfile as df
from .conftest import CHROOT_PATH, unavailable
from .test_install_asterisk import INSTANCE_DIR, start_entrypoint, stop
from .test_install_controller import image_environment, render, service_environment

pytestmark = [pytest.mark.asterisk, pytest.mark.xdist_group("docker-images")]

PG_ADMIN = os.environ.get("ACD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ACD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NODES = ("controller-1", "controller-2")


def healthcheck(dockerfile: Path) -> list[str]:
    """The HEALTHCHECK's exec-form command."""
    [item] = [i for i in df.instructions(dockerfile) if i.keyword == "HEALTHCHECK"]
    command: list[str] = json.loads(item.arguments.split(" CMD ", 1)[1])
    return command


def image_command(dockerfile: Path, keyword: str) -> list[str]:
    items = [i for i in df.instructions(dockerfile) if i.keyword == keyword]
    return items[-1].words()


@pytest.fixture
async def storage_url() -> AsyncIterator[str]:
    """A PostgreSQL database of this test alone (dropped after): compose's `postgres`."""
    import asyncpg

    name = f"acd_docker_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"no PostgreSQL at {PG_ADMIN}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        server = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        yield f"{server}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test alone on this machine's Redis (compose's `redis`)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable(f"no Redis answers at {REDIS_URL}: {exc}")
    prefix = f"acd-docker-{uuid.uuid4().hex[:10]}"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
        client.close()


def get(url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, method="GET" if body is None else "POST")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    data = None
    if body is not None:
        request.add_header("Content-Type", "application/json")
        data = json.dumps(body).encode()
    try:
        with urllib.request.urlopen(request, data=data, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def node_environment(
    prefix: Path, node: str, secrets: Path, ports: AsteriskPorts, http: int, agi: int, key: str
) -> dict[str, str]:
    env = {**image_environment(prefix), **service_environment(node, secrets)}
    # The compose network's names and ports, as this machine has them.
    env.update(
        ACD_AMI_HOST="127.0.0.1",
        ACD_AMI_PORT=str(ports.ami),
        ACD_AGI_HOST="127.0.0.1",
        ACD_AGI_PORT=str(agi),
        ACD_HTTP_HOST="127.0.0.1",
        ACD_HTTP_PORT=str(http),
        ACD_CLUSTER_API_URL=f"http://127.0.0.1:{http}",
        ACD_CLUSTER_AGI_ADDRESS=f"127.0.0.1:{agi}",
        ACD_CLUSTER_REDIS_URL=REDIS_URL,
        ACD_CLUSTER_KEY_PREFIX=key,
        ACD_STORAGE_VAR_DIR=str(secrets.parent / node),
    )
    return env


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)


def test_the_compose_set_up_runs_from_the_images_install_steps(
    asterisk_image_root: Path,
    controller_prefix: Path,
    storage_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    root = asterisk_image_root
    secrets = tmp_path / "secrets"
    subprocess.run(["sh", str(df.DOCKER / "make-secrets.sh"), str(secrets)], check=True)
    # compose's storage_url names the `postgres` service; here this test's database.
    (secrets / "storage_url").write_text(storage_url + "\n")
    ports = AsteriskPorts.pick_free()
    http = {node: free_port(socket.SOCK_STREAM) for node in NODES}
    agi = {node: free_port(socket.SOCK_STREAM) for node in NODES}
    rendered = root / INSTANCE_DIR / "rendered"
    done = render(
        controller_prefix,
        secrets,
        rendered,
        f"--ami-port={ports.ami}",
        f"--sip-port={ports.sip}",
        f"--rtp-start={ports.rtp_start}",
        f"--rtp-end={ports.rtp_end}",
        f"--agi=127.0.0.1:{agi[NODES[0]]}",
        "--bind=127.0.0.1",
        "--ami-permit=127.0.0.1/255.255.255.255",
    )
    assert done.returncode == 0, done.stderr
    write_network_files(root)  # what Docker gives every container: /etc/hosts

    started = time.monotonic()
    asterisk = start_entrypoint(root)
    controllers: dict[str, subprocess.Popen[bytes]] = {}
    logs = contextlib.ExitStack()
    try:
        asterisk_health = [
            "env", "-i", f"PATH={CHROOT_PATH}", "chroot", str(root),
            *healthcheck(df.ASTERISK_DOCKERFILE),
        ]  # fmt: skip
        wait_for(
            "the Asterisk image's HEALTHCHECK",
            lambda: subprocess.run(asterisk_health, capture_output=True).returncode == 0,
            30,
        )
        print(f"tests/docker: Asterisk healthy {time.monotonic() - started:.2f} s")
        entrypoint = [
            word.replace("/opt/acd", str(controller_prefix))
            for word in image_command(df.CONTROLLER_DOCKERFILE, "ENTRYPOINT")
        ]
        environments = {
            node: node_environment(
                controller_prefix, node, secrets, ports, http[node], agi[node], redis_prefix
            )
            for node in NODES
        }
        for node in NODES:
            log = logs.enter_context(open(tmp_path / f"{node}.log", "wb"))  # noqa: SIM115
            controllers[node] = subprocess.Popen(
                [*entrypoint, *image_command(df.CONTROLLER_DOCKERFILE, "CMD")],
                env=environments[node],
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for node in NODES:
            controller_health = healthcheck(df.CONTROLLER_DOCKERFILE)
            wait_for(
                f"{node}: the controller image's HEALTHCHECK",
                lambda env=environments[node], cmd=controller_health: (
                    subprocess.run(cmd, env=env, capture_output=True).returncode == 0
                ),
                60,
            )
        ready = {
            node: wait_for(
                f"{node} /readyz",
                lambda node=node: (lambda r: r[1] if r[0] == 200 else None)(
                    get(f"http://127.0.0.1:{http[node]}/readyz")
                ),
                60,
            )
            for node in NODES
        }
        print(f"tests/docker: both nodes ready {time.monotonic() - started:.2f} s")
        assert sorted(body["role"] for body in ready.values()) == ["leader", "standby"], ready
        assert {body["node"] for body in ready.values()} == set(NODES)
        leader = next(node for node, body in ready.items() if body["role"] == "leader")
        assert ready[leader]["checks"]["ami_connected"] is True

        token = (secrets / "api_token").read_text().strip()
        for node in NODES:
            base = f"http://127.0.0.1:{http[node]}/api/v1"
            assert get(f"{base}/queues")[0] == 401
            status, _body = get(f"{base}/queues", token)
            assert status == 200, (node, status, _body)
        standby = next(node for node in NODES if node != leader)
        queue = {"name": "docker", "skills": {"support": 1}}
        status, body = get(f"http://127.0.0.1:{http[standby]}/api/v1/queues", token, queue)
        assert status == 201, body  # forwarded to the leader at its api_url
        status, body = get(f"http://127.0.0.1:{http[leader]}/api/v1/queues/docker", token)
        assert status == 200, body
        for process in controllers.values():
            assert process.poll() is None
        assert asterisk.poll() is None
    finally:
        stopping = time.monotonic()
        for node, process in controllers.items():
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(25)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            if process.returncode != 0:
                print((tmp_path / f"{node}.log").read_text()[-3000:])
        logs.close()
        status = stop(asterisk)
        print(f"tests/docker: everything stopped in {time.monotonic() - stopping:.2f} s")
    assert status == 0, (root / "console.log").read_text()[-2000:]
    assert all(process.returncode == 0 for process in controllers.values())
