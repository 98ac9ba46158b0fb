"""What asterisk-config/ declares, read with pyst2's parser (`acd.asterisk.conf`): the pitfalls
in ../shared/ASTERISK.md stay fixed and the dialplan holds every place the code sends a call."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from acd.asterisk.conf import ConfError, ConfFile, check_directory, read_conf
from acd.asterisk.templates import default_template_dir
from acd.controller.effects import DELIVER_CONTEXT, EXIT_TARGET


def conf(name: str) -> ConfFile:
    return read_conf(default_template_dir() / name)


def test_asterisk_conf_directories_section_is_not_a_template() -> None:
    directories = conf("asterisk.conf").named("directories")
    assert directories
    assert not any(section.is_template for section in directories)


def test_the_module_list_is_explicit_and_has_what_the_acd_needs() -> None:
    modules = conf("modules.conf").section("modules")
    assert modules is not None
    assert modules.get("autoload") == "no"
    loaded = [value.split(";")[0].strip() for value in modules.values("load")]
    for needed in ("res_agi.so", "res_speech.so", "res_timing_timerfd.so", "res_musiconhold.so"):
        assert needed in loaded, needed
    assert loaded.index("res_speech.so") < loaded.index("res_agi.so")


def test_the_ami_user_is_loopback_only_and_cannot_run_commands() -> None:
    manager = conf("manager.conf")
    general, user = manager.section("general"), manager.section("acd")
    assert general is not None
    assert user is not None
    assert general.get("bindaddr") == "127.0.0.1"
    write = {part.strip() for part in (user.get("write") or "").split(",")}
    assert not write & {"command", "config", "all", "system"}
    assert user.get("eventfilter") == "@AMI_EVENT_FILTERS@"
    assert user.get("permit") == "127.0.0.1/255.255.255.255"


def test_agents_endpoints_inherit_the_phone_template() -> None:
    pjsip = conf("pjsip.conf")
    for agent in ("1001", "1002"):
        endpoint = next(s for s in pjsip.named(agent) if s.options == ("phone",))
        assert endpoint.get("context") == "from-agent"
    phone = next(s for s in pjsip.named("phone"))
    assert phone.is_template
    assert phone.get("type") == "endpoint"


def test_the_dialplan_has_every_context_the_controller_sends_calls_to() -> None:
    dialplan = read_conf(default_template_dir() / "extensions.conf")  # includes extensions_acd
    contexts = {section.name for section in dialplan.sections}
    assert {"acd-inbound", "acd-wait", "acd-sim-agent", "acd-features"} <= contexts
    assert DELIVER_CONTEXT in contexts
    exit_context, _exten, label = EXIT_TARGET
    assert exit_context in contexts
    queue = dialplan.section(exit_context)
    assert queue is not None
    assert any(f"({label})" in value for value in queue.values("same"))


def test_check_refuses_a_directories_template(tmp_path: Path) -> None:
    shutil.copy(default_template_dir() / "asterisk.conf", tmp_path / "asterisk.conf")
    text = (tmp_path / "asterisk.conf").read_text().replace("[directories]", "[directories](!)")
    (tmp_path / "asterisk.conf").write_text(text)
    with pytest.raises(ConfError, match="directories"):
        check_directory(tmp_path)


def test_check_refuses_a_missing_include_and_a_malformed_line(tmp_path: Path) -> None:
    (tmp_path / "extensions.conf").write_text("[ctx]\nexten => s,1,NoOp()\n#include gone.conf\n")
    with pytest.raises(ConfError, match=r"gone\.conf"):
        check_directory(tmp_path)
    (tmp_path / "extensions.conf").write_text("[ctx]\nthis line has no value\n")
    with pytest.raises(ConfError, match=r"extensions\.conf:2"):
        check_directory(tmp_path)
