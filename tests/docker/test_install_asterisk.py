"""The Asterisk image without Docker: asterisk.Dockerfile's steps replayed in a Debian sid root
(the `asterisk_image_root` fixture runs docker/install-asterisk.sh in it), the compose file's
`asterisk-config` service rendering the config from the controller install with the shared
secrets, then the image's ENTRYPOINT (docker/asterisk-entrypoint.sh) under `chroot`: the real
Asterisk 22 boots on that config (FullyBooted over AMI) and the controller's AMI account logs in
with the secret the controller reads."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from acd.asterisk.install import write_network_files
from acd.asterisk.instance import OBSERVER_USERNAME
from acd.asterisk.ports import AsteriskPorts

from . import dockerfile as df
from .conftest import CHROOT_PATH
from .test_install_controller import render

pytestmark = [pytest.mark.asterisk, pytest.mark.xdist_group("docker-images")]
INSTANCE_DIR = Path("var/lib/acd-asterisk")
OBSERVER_SECRET = "observer-secret-for-this-test"


def ami_session(port: int, username: str, secret: str, timeout: float) -> list[str]:
    """Log in (retrying while the port is still closed); the messages until FullyBooted, or
    until the login's reply for a user that does not see `system` events."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=2)
            break
        except OSError:
            assert time.monotonic() < deadline, f"AMI port {port} never opened"
            time.sleep(0.05)
    with connection:
        connection.settimeout(max(0.5, deadline - time.monotonic()))
        connection.sendall(
            f"Action: Login\r\nUsername: {username}\r\nSecret: {secret}\r\n"
            "Events: on\r\nActionID: login\r\n\r\n".encode()
        )
        buffer = b""
        messages: list[str] = []
        while time.monotonic() < deadline:
            chunk = connection.recv(65536)
            if not chunk:
                break
            buffer += chunk
            *complete, rest = buffer.split(b"\r\n\r\n")
            buffer = rest
            messages.extend(message.decode(errors="replace") for message in complete)
            if any("Event: FullyBooted" in m for m in messages):
                break
            if username != OBSERVER_USERNAME and any("ActionID: login" in m for m in messages):
                break
        return messages


def start_entrypoint(root: Path) -> subprocess.Popen[bytes]:
    [entry] = [i for i in df.instructions(df.ASTERISK_DOCKERFILE) if i.keyword == "ENTRYPOINT"]
    with open(root / "console.log", "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            ["env", "-i", f"PATH={CHROOT_PATH}", "chroot", str(root), *entry.words()],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
        raise


def test_asterisk_boots_on_the_config_rendered_from_the_shared_secrets(
    asterisk_image_root: Path, controller_prefix: Path, tmp_path: Path
) -> None:
    root = asterisk_image_root
    # Before the `asterisk-config` service has run: the entrypoint says so and stops.
    process = start_entrypoint(root)
    assert process.wait(15) == 1
    log = (root / "console.log").read_text()
    assert "no rendered configuration in /var/lib/acd-asterisk/rendered" in log
    secrets = tmp_path / "secrets"
    subprocess.run(["sh", str(df.DOCKER / "make-secrets.sh"), str(secrets)], check=True)
    ports = AsteriskPorts.pick_free()
    rendered = root / INSTANCE_DIR / "rendered"
    started = time.monotonic()
    # The compose service's render, on this machine's loopback instead of the container's
    # interfaces (the host's network is shared with the chroot).
    done = render(
        controller_prefix,
        secrets,
        rendered,
        f"--ami-port={ports.ami}",
        f"--sip-port={ports.sip}",
        f"--rtp-start={ports.rtp_start}",
        f"--rtp-end={ports.rtp_end}",
        f"--agi=127.0.0.1:{ports.agi_port}",
        "--bind=127.0.0.1",
        "--ami-permit=127.0.0.1/255.255.255.255",
    )
    assert done.returncode == 0, done.stderr
    print(f"tests/docker: render took {time.monotonic() - started:.2f} s")
    # A test-only AMI user that sees `system` events (test instances add the same file).
    (rendered / "manager_observer.conf").write_text(
        f"[{OBSERVER_USERNAME}]\nsecret = {OBSERVER_SECRET}\ndeny = 0.0.0.0/0.0.0.0\n"
        "permit = 127.0.0.1/255.255.255.255\nread = system,call\nwrite = call\n"
    )
    # What Docker gives every container: an /etc/hosts naming its host name (without it each
    # lookup waits on DNS; ../shared/ASTERISK.md pitfall 4).
    write_network_files(root)
    started = time.monotonic()
    process = start_entrypoint(root)
    try:
        booted = ami_session(ports.ami, OBSERVER_USERNAME, OBSERVER_SECRET, timeout=30)
        print(f"tests/docker: entrypoint to FullyBooted {time.monotonic() - started:.2f} s")
        assert any("Event: FullyBooted" in m for m in booted), booted
        ami_secret = (secrets / "ami_secret").read_text().strip()
        controller = ami_session(ports.ami, "acd", ami_secret, timeout=10)
        assert any("Authentication accepted" in m for m in controller), controller
        refused = ami_session(ports.ami, "acd", "not-the-secret", timeout=10)
        assert any("Authentication failed" in m for m in refused), refused
        # The entrypoint made this start's etc/ from the rendered files, private to asterisk.
        etc = root / INSTANCE_DIR / "etc"
        assert sorted(p.name for p in etc.iterdir()) == sorted(p.name for p in rendered.iterdir())
        assert (etc.stat().st_mode & 0o777) == 0o700
        assert process.poll() is None
    finally:
        status = stop(process)
    assert status == 0, (root / "console.log").read_text()[-2000:]
