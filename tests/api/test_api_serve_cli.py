from __future__ import annotations

from pathlib import Path

import pytest

from acd.cli import build_parser, main


def test_serve_verb_takes_a_config_file() -> None:
    args = build_parser().parse_args(["serve", "--config", "acd.example.toml"])
    assert args.config == "acd.example.toml"


def test_serve_refuses_a_bad_config_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[queues]]\nname = "x"\nwrap_up = -3\n')
    assert main(["serve", "--config", str(bad)]) == 2
    assert "queues[0].wrap_up" in capsys.readouterr().err
    assert main(["serve", "--config", str(tmp_path / "missing.toml")]) == 2


def test_the_example_configuration_loads() -> None:
    from acd.config import load_settings

    settings = load_settings(Path(__file__).parents[2] / "acd.example.toml", env={})
    assert {q.name for q in settings.queues} == {"support", "sales"}
    assert any(q.escalation for q in settings.queues)
    contacts = {a.id: a.contact for a in settings.agents}
    assert contacts["2001"] == "Local/2001@acd-sim-agent"
    assert contacts["1002"] == "PJSIP/1002"
    assert settings.api_token
