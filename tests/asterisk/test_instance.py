"""A real Asterisk instance: boot, modules, AMI login, clean stop, instances side by side."""

from __future__ import annotations

import socket

import pytest
from ami_session import AmiSession, login

from acd.asterisk.install import Installation
from acd.asterisk.instance import AsteriskInstance, PortInUseError
from acd.asterisk.ports import AsteriskPorts
from acd.asterisk.testing import RunningAsterisk, start_with_free_ports, unique_test_name

pytestmark = pytest.mark.asterisk

REQUIRED_MODULES = (
    "res_agi.so",
    "res_speech.so",
    "pbx_config.so",
    "app_dial.so",
    "app_queue.so",
    "app_playback.so",
    "res_musiconhold.so",
    "app_senddtmf.so",
    "app_read.so",
    "app_userevent.so",
    "app_echo.so",
    "res_timing_timerfd.so",
    "bridge_simple.so",
    "func_channel.so",
    "chan_pjsip.so",
    "res_pjsip_registrar.so",
    "res_pjsip_authenticator_digest.so",
    "res_rtp_asterisk.so",
    "codec_ulaw.so",
    "codec_gsm.so",
    "format_gsm.so",
)


def test_required_modules_are_running(asterisk: RunningAsterisk) -> None:
    listing = asterisk.instance.cli("module show")
    running = {line.split()[0] for line in listing.splitlines() if " Running " in line}
    assert set(REQUIRED_MODULES) - running == set()


def test_version_is_22_or_newer(asterisk: RunningAsterisk) -> None:
    version = asterisk.instance.cli("core show version")
    major = int(version.split()[1].split(".")[0])
    assert major >= 20, version


def test_instance_uses_its_own_ports_and_dirs(asterisk: RunningAsterisk) -> None:
    settings = asterisk.instance.cli("manager show settings")
    assert f"{asterisk.ami_port}" in settings
    transports = asterisk.instance.cli("pjsip show transports")
    assert f"127.0.0.1:{asterisk.sip_port}" in transports
    globals_ = asterisk.instance.cli("dialplan show globals")
    assert f"ACD_AGI={asterisk.agi_host}:{asterisk.agi_port}" in globals_
    assert asterisk.instance.astdb_path.exists()


async def test_ami_login_as_acd_user(ami: AmiSession) -> None:
    pong = await ami.action(Action="Ping")
    assert pong.success
    booted = await ami.action(Action="CoreStatus")
    assert booted.success


async def test_ami_refuses_a_wrong_secret(asterisk: RunningAsterisk) -> None:
    manager = await login(asterisk, secret="not-the-secret")
    try:
        assert not manager.authenticated
    finally:
        manager.close()


async def test_ami_user_may_not_run_cli_commands(ami: AmiSession) -> None:
    reply = await ami.action(Action="Command", Command="core show uptime")
    assert not reply.success


def test_two_instances_side_by_side_and_clean_stop(
    asterisk: RunningAsterisk, asterisk_installation: Installation
) -> None:
    second = start_with_free_ports(asterisk_installation, unique_test_name("second"))
    try:
        assert second.ports.ami != asterisk.ports.ami
        assert second.instance.dir != asterisk.instance.dir
        assert second.instance.is_running()
        assert asterisk.instance.is_running()
        second.instance.stop()
        assert not second.instance.is_running()
        assert "Asterisk cleanly ending" in second.instance.messages_log.read_text()
        # Stopping one leaves the other untouched.
        assert "System uptime" in asterisk.instance.cli("core show uptime")
    finally:
        second.instance.remove()


def test_stop_of_a_stopped_instance_is_a_no_op(asterisk_installation: Installation) -> None:
    instance = AsteriskInstance(asterisk_installation, unique_test_name("never-started"))
    instance.stop()
    assert not instance.is_running()


def test_start_refuses_a_bad_name(asterisk_installation: Installation) -> None:
    with pytest.raises(ValueError, match="instance name"):
        AsteriskInstance(asterisk_installation, "../escape")


def test_sip_endpoints_for_agents_and_caller(asterisk: RunningAsterisk) -> None:
    for endpoint, context in (
        ("1001", "from-agent"),
        ("1002", "from-agent"),
        ("caller", "from-caller"),
    ):
        details = asterisk.instance.cli(f"pjsip show endpoint {endpoint}")
        assert f"context                            : {context}" in details
        aor = asterisk.instance.cli(f"pjsip show aor {endpoint}")
        assert "max_contacts         : 1" in aor
        assert "remove_existing      : true" in aor


@pytest.mark.parametrize("kind", ["ami", "sip"])
def test_start_on_a_taken_port_raises_port_in_use_and_leaves_nothing_running(
    asterisk_installation: Installation, kind: str
) -> None:
    ports = AsteriskPorts.pick_free()
    sock_type = socket.SOCK_STREAM if kind == "ami" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, sock_type) as squatter:
        squatter.bind(("127.0.0.1", ports.ami if kind == "ami" else ports.sip))
        if kind == "ami":
            squatter.listen()
        instance = AsteriskInstance(asterisk_installation, unique_test_name(f"taken-{kind}"), ports)
        try:
            with pytest.raises(PortInUseError, match=kind.upper()):
                instance.start()
            assert not instance.is_running()
        finally:
            instance.remove()
