"""Rendering asterisk-config/ into an instance, and port validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.asterisk.ports import AsteriskPorts
from acd.asterisk.templates import (
    PLACEHOLDER,
    TemplateError,
    default_template_dir,
    render,
    render_directory,
)

VALUES = {
    "AMI_PORT": "1",
    "SIP_PORT": "2",
    "RTP_START": "3",
    "RTP_END": "4",
    "AGI_ADDRESS": "127.0.0.1:5",
    "AGI_HOST": "127.0.0.1",
    "AGI_PORT": "5",
    "INSTANCE_DIR": "/var/acd/instances/x",
    "INSTANCE_NAME": "x",
    "AMI_SECRET": "ami-secret",
    "AGI_SECRET": "agi-secret",
    "AMI_EVENT_FILTERS": "^Event: Hangup[[:space:]]",
}


def test_render_replaces_placeholders_and_leaves_dial_strings_alone() -> None:
    text = "port = @AMI_PORT@\nexten => 1,1,Dial(Local/2001@acd-sim-agent)\n"
    assert render(text, VALUES) == "port = 1\nexten => 1,1,Dial(Local/2001@acd-sim-agent)\n"


def test_unknown_placeholder_names_file_and_line() -> None:
    with pytest.raises(TemplateError, match=r"x.conf:2: unknown placeholder @NOPE@"):
        render("a\nb = @NOPE@\n", VALUES, "x.conf")


def test_every_shipped_template_renders_completely(tmp_path: Path) -> None:
    written = render_directory(default_template_dir(), tmp_path, VALUES)
    names = {path.name for path in written}
    assert {"asterisk.conf", "manager.conf", "pjsip.conf", "extensions.conf"} <= names
    assert "README.md" not in names
    for path in written:
        assert not PLACEHOLDER.search(path.read_text()), path


def test_render_directory_refuses_a_directory_without_asterisk_conf(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"no asterisk\.conf"):
        render_directory(tmp_path, tmp_path / "out", VALUES)


def test_ports_reject_an_empty_rtp_range() -> None:
    with pytest.raises(ValueError, match="empty RTP range"):
        AsteriskPorts(rtp_start=10000, rtp_end=10000)


def test_ports_reject_out_of_range_numbers() -> None:
    with pytest.raises(ValueError, match="outside"):
        AsteriskPorts(ami=70000)


def test_picked_ports_are_distinct_and_rtp_stays_below_ephemeral_range() -> None:
    ports = AsteriskPorts.pick_free()
    assert ports.ami != ports.agi_port
    assert ports.rtp_end < 32768
