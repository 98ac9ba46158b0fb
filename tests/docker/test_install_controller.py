"""The controller image's install step (docker/install-controller.sh, replayed by the
`controller_prefix` fixture as controller.Dockerfile runs it), then what the compose file asks
of that install: the console script, its settings from the compose environment and secrets,
and the Asterisk config renderer of the `asterisk-config` service."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from acd.asterisk.templates import PLACEHOLDER

from . import dockerfile as df

SECRETS = "/run/secrets/"


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    target = tmp_path / "secrets"
    subprocess.run(["sh", str(df.DOCKER / "make-secrets.sh"), str(target)], check=True)
    return target


def image_environment(prefix: Path) -> dict[str, str]:
    """The final stage's ENV, /opt/acd mapped to the prefix."""
    env: dict[str, str] = {}
    final = max(item.stage for item in df.instructions(df.CONTROLLER_DOCKERFILE))
    for item in df.instructions(df.CONTROLLER_DOCKERFILE):
        if item.keyword == "ENV" and item.stage == final:
            for word in item.words():
                name, _, value = word.partition("=")
                env[name] = value.replace("/opt/acd", str(prefix))
    env["PATH"] = env["PATH"].replace("$PATH", "/usr/bin:/bin")
    return env


def service_environment(name: str, secrets: Path) -> dict[str, str]:
    environment: dict[str, Any] = df.compose()["services"][name]["environment"]
    return {k: str(v).replace(SECRETS, f"{secrets}/") for k, v in environment.items()}


def test_the_console_script_runs_from_the_prefix(controller_prefix: Path) -> None:
    for argv in (["--help"], ["serve", "--help"], ["asterisk", "--help"]):
        done = subprocess.run(
            [str(controller_prefix / "bin" / "acd"), *argv], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    # What the image's ENTRYPOINT and the renderer service name exist in the prefix.
    share = controller_prefix / "share" / "acd"
    assert os.access(share / "controller-entrypoint.sh", os.X_OK)
    assert (share / "render_asterisk_config.py").is_file()
    assert (share / "asterisk-config" / "manager.conf").is_file()
    # Not an editable install: nothing points back into the checkout.
    site = next((controller_prefix / "lib").glob("python3*/site-packages"))
    assert (site / "acd" / "serve.py").is_file()
    assert not list(site.glob("__editable__*"))


SETTINGS_PROBE = """
import json
from acd.config import load_settings
s = load_settings()
print(json.dumps({
    "node": s.cluster.node_id, "redis": s.cluster.redis_url, "agi_address": s.cluster.agi_address,
    "api_url": s.cluster.api_url, "storage": s.storage.url, "var_dir": s.storage.var_dir,
    "token": s.api_token, "ami": [s.ami.host, s.ami.port, s.ami.resolved_secret()],
    "agi_key": s.agi.resolved_secret(), "http": [s.http.host, s.http.port],
    "demo": s.demo.enabled,
}))
"""


@pytest.mark.parametrize("node", ["controller-1", "controller-2"])
def test_each_node_loads_its_settings_from_the_compose_environment(
    controller_prefix: Path, secrets_dir: Path, node: str
) -> None:
    env = {**image_environment(controller_prefix), **service_environment(node, secrets_dir)}
    entrypoint = controller_prefix / "share" / "acd" / "controller-entrypoint.sh"
    done = subprocess.run(
        [str(entrypoint), "python", "-c", SETTINGS_PROBE],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    read = {name: (secrets_dir / name).read_text().strip() for name in df.compose()["secrets"]}
    assert loaded["node"] == node
    assert loaded["redis"] == "redis://redis:6379/0"
    assert loaded["agi_address"] == f"{node}:4573"
    assert loaded["api_url"] == f"http://{node}:8080"
    assert loaded["storage"] == read["storage_url"]
    assert loaded["token"] == read["api_token"]
    assert loaded["ami"] == ["asterisk", 5038, read["ami_secret"]]
    assert loaded["agi_key"] == read["agi_secret"]
    assert loaded["http"] == ["0.0.0.0", 8080]
    assert loaded["var_dir"] == "/var/lib/acd"
    assert loaded["demo"] is False


def render(prefix: Path, secrets: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The `asterisk-config` service: its entrypoint and command, paths mapped."""
    service = df.compose()["services"]["asterisk-config"]
    entry = [word.replace("/opt/acd", str(prefix)) for word in service["entrypoint"]]
    command = [
        arg.replace("${ACD_DOCKER_MEDIA_ADDRESS:-127.0.0.1}", "127.0.0.1")
        for arg in service["command"]
    ]
    return subprocess.run(
        [
            *entry,
            *command,
            f"--out={out}",
            f"--ami-secret-file={secrets}/ami_secret",
            f"--agi-secret-file={secrets}/agi_secret",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=image_environment(prefix),
        check=False,
    )


def test_the_render_service_puts_ami_and_sip_on_the_network(
    controller_prefix: Path, secrets_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rendered"
    done = render(controller_prefix, secrets_dir, out)
    assert done.returncode == 0, done.stderr
    assert (out.stat().st_mode & 0o777) == 0o700
    texts = {path.name: path.read_text() for path in out.iterdir()}
    assert not [name for name, text in texts.items() if PLACEHOLDER.search(text)]
    manager = texts["manager.conf"]
    assert "bindaddr = 0.0.0.0\n" in manager
    assert "permit = 172.30.0.0/255.255.255.0\n" in manager
    assert f"secret = {(secrets_dir / 'ami_secret').read_text().strip()}\n" in manager
    assert "eventfilter = " in manager
    assert "bind = 0.0.0.0:5060\n" in texts["pjsip.conf"]
    dialplan = texts["extensions.conf"]
    assert "ACD_AGI = controller-1:4573\n" in dialplan
    assert f"ACD_AGI_KEY = {(secrets_dir / 'agi_secret').read_text().strip()}\n" in dialplan
    assert "astetcdir => /var/lib/acd-asterisk/etc\n" in texts["asterisk.conf"]


def test_the_render_service_refuses_a_template_whose_loopback_line_moved(
    controller_prefix: Path, secrets_dir: Path, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    source = controller_prefix / "share" / "acd" / "asterisk-config"
    templates.mkdir()
    for path in source.iterdir():
        text = path.read_text().replace("bindaddr = 127.0.0.1", "bindaddr=127.0.0.1")
        (templates / path.name).write_text(text)
    done = render(controller_prefix, secrets_dir, tmp_path / "out", f"--templates={templates}")
    assert done.returncode == 1
    assert "manager.conf: expected the line 'bindaddr = 127.0.0.1' once, found 0" in done.stderr
