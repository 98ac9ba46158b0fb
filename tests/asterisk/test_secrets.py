"""The AMI secret and the FastAGI key are generated per Asterisk instance (0600 files in a 0700
directory, at least 32 characters), kept across that instance's restarts, different for each
instance, rendered into its configuration; the old fixed secret no longer logs in."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from ami_session import login

from acd.asterisk import cli
from acd.asterisk import instance as instance_module
from acd.asterisk.install import Installation
from acd.asterisk.instance import AsteriskInstance
from acd.asterisk.testing import RunningAsterisk, start_with_free_ports, unique_test_name
from acd.private_files import NotPrivateError

OLD_FIXED_SECRET = "acd-local-secret"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.asterisk
def test_the_secrets_are_generated_private_and_long(asterisk: RunningAsterisk) -> None:
    instance = asterisk.instance
    assert _mode(instance.secrets_dir) == 0o700
    for name in ("ami", "agi"):
        path = instance.secret_file(name)
        assert _mode(path) == 0o600, path
        value = path.read_text().strip()
        assert len(value) >= 32, path
    assert asterisk.ami_secret != asterisk.agi_secret
    assert asterisk.ami_secret == instance.secret_file("ami").read_text().strip()
    # The rendered configuration holds them: no other user may read it either.
    assert _mode(instance.etc_dir) == 0o700
    assert f"secret = {asterisk.ami_secret}" in (instance.etc_dir / "manager.conf").read_text()


@pytest.mark.asterisk
async def test_the_old_fixed_secret_no_longer_logs_in(asterisk: RunningAsterisk) -> None:
    refused = await login(asterisk, OLD_FIXED_SECRET, as_controller=True)
    accepted = await login(asterisk, as_controller=True)
    try:
        assert not refused.authenticated
        assert accepted.authenticated
    finally:
        refused.close()
        accepted.close()


@pytest.mark.asterisk
async def test_each_instance_has_its_own_secrets_kept_across_its_restarts(
    asterisk: RunningAsterisk, asterisk_installation: Installation
) -> None:
    second = start_with_free_ports(asterisk_installation, unique_test_name("secrets"))
    try:
        before = (second.ami_secret, second.agi_secret)
        assert second.ami_secret != asterisk.ami_secret
        assert second.agi_secret != asterisk.agi_secret
        second.instance.stop()
        second.instance.start()
        assert (second.ami_secret, second.agi_secret) == before
        manager = await login(second, as_controller=True)
        try:
            assert manager.authenticated, "the kept secret no longer logs in after a restart"
        finally:
            manager.close()
        # And the first instance's secret does not open the second.
        other = await login(second, asterisk.ami_secret, as_controller=True)
        try:
            assert not other.authenticated
        finally:
            other.close()
    finally:
        second.instance.remove()
    assert not second.instance.secrets_dir.exists()  # a throw-away instance takes them along


@pytest.mark.asterisk
def test_acd_asterisk_install_writes_the_default_instances_secrets(
    asterisk_installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique_test_name("install")
    monkeypatch.setattr(cli, "DEFAULT_INSTANCE", name)
    instance = AsteriskInstance(asterisk_installation, name)
    try:
        parser = cli_parser()
        args = parser.parse_args(["asterisk", "install"])
        assert args.func(args) == 0
        first = instance.secret_file("ami").read_text()
        assert _mode(instance.secret_file("agi")) == 0o600
        assert args.func(args) == 0  # a second install keeps them
        assert instance.secret_file("ami").read_text() == first
    finally:
        instance.remove()


# --- without Asterisk: the files themselves ------------------------------------------------


@pytest.fixture
def unstarted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsteriskInstance:
    """An instance whose secrets live under tmp_path (nothing is rendered or started)."""
    monkeypatch.setattr(instance_module, "INSTANCES_DIR", PurePosixPath(tmp_path))
    return AsteriskInstance(Installation(Path("/"), "22"), "unit")


def test_a_secret_found_readable_by_others_is_made_private_and_kept(
    unstarted: AsteriskInstance,
) -> None:
    os.makedirs(unstarted.secrets_dir, mode=0o755)
    os.chmod(unstarted.secrets_dir, 0o755)
    path = unstarted.secret_file("ami")
    path.write_text("kept-" + "x" * 40 + "\n")
    os.chmod(path, 0o644)
    unstarted.ensure_secrets()
    assert (_mode(unstarted.secrets_dir), _mode(path)) == (0o700, 0o600)
    assert unstarted.ami_secret == "kept-" + "x" * 40
    assert _mode(unstarted.secret_file("agi")) == 0o600


def test_a_shared_secrets_directory_is_refused_and_left_as_it_is(
    unstarted: AsteriskInstance,
) -> None:
    os.makedirs(unstarted.secrets_dir)
    os.chmod(unstarted.secrets_dir, 0o1777)
    with pytest.raises(NotPrivateError):
        unstarted.ensure_secrets()
    assert _mode(unstarted.secrets_dir) == 0o1777
    assert not unstarted.secret_file("ami").exists()


def _generate(instance: AsteriskInstance, start: Any, out: Any) -> None:
    start.wait()
    out.put(instance.ami_secret)


def test_of_concurrent_generators_the_first_stays(unstarted: AsteriskInstance) -> None:
    context = multiprocessing.get_context("fork")
    start, out = context.Event(), context.Queue()
    workers = [context.Process(target=_generate, args=(unstarted, start, out)) for _ in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    seen = {out.get(timeout=10) for _ in workers}
    for worker in workers:
        worker.join(10)
    assert seen == {unstarted.ami_secret}
    assert len(unstarted.ami_secret) >= 32
    assert sorted(p.name for p in unstarted.secrets_dir.iterdir()) == ["ami.secret"]


def cli_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    return parser
