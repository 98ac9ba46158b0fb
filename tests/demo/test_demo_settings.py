"""[demo]: off by default, on in acd.example.toml, every key from the file or ACD_DEMO_*, and a
clear refusal of what cannot be."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import ConfigError, load_settings
from acd.config.settings import DemoSettings
from acd.serve import check_exposure

EXAMPLE = Path(__file__).parents[2] / "acd.example.toml"


def demo(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> DemoSettings:
    path = tmp_path / "acd.toml"
    path.write_text(text)
    return load_settings(path, env=env or {}).demo


def test_off_by_default() -> None:
    assert load_settings(None, env={}).demo == DemoSettings()
    assert DemoSettings().enabled is False


def test_the_example_configuration_serves_with_the_demo_on() -> None:
    """What `acd serve --config acd.example.toml` (make run) reads before it serves."""
    settings = load_settings(EXAMPLE, env={})
    check_exposure(settings)
    assert settings.demo.enabled
    assert settings.demo.calls_per_minute > 0
    assert settings.demo.agents == ()  # every simulated agent of the file
    # The breaks are pause codes every example queue labels, so the pages show "Break".
    for queue in settings.queues:
        assert set(settings.demo.break_reasons) <= {r.code for r in queue.pause_reasons}
    assert not load_settings(EXAMPLE, env={"ACD_DEMO_ENABLED": "0"}).demo.enabled


def test_every_key_from_the_file(tmp_path: Path) -> None:
    got = demo(
        tmp_path,
        """
[demo]
enabled = true
calls_per_minute = 30
queues = { support = 2, sales = 1 }
talk_mean = 8
ring = 0
patience_mean = 0
caller_data = false
agents = ["2001", "2002"]
seed = 42
break_every = 0
break_mean = 7.5
break_reasons = []
""",
    )
    assert got == DemoSettings(
        enabled=True,
        calls_per_minute=30.0,
        queues=(("support", 2.0), ("sales", 1.0)),
        talk_mean=8.0,
        ring=0.0,
        patience_mean=0.0,
        caller_data=False,
        agents=("2001", "2002"),
        seed=42,
        break_every=0.0,
        break_mean=7.5,
        break_reasons=(),
    )
    assert isinstance(got.calls_per_minute, float)
    assert demo(tmp_path, '[demo]\nqueues = ["support", "sales:3"]\n').queues == (
        ("support", 1.0),
        ("sales", 3.0),
    )


def test_every_key_from_the_environment(tmp_path: Path) -> None:
    env = {
        "ACD_DEMO_ENABLED": "yes",
        "ACD_DEMO_CALLS_PER_MINUTE": "120",
        "ACD_DEMO_QUEUES": "support:2, sales",
        "ACD_DEMO_AGENTS": "2001,2003",
        "ACD_DEMO_SEED": "7",
        "ACD_DEMO_PATIENCE_MEAN": "4.5",
        "ACD_DEMO_BREAK_REASONS": "tea,training",
    }
    got = demo(tmp_path, "[demo]\nenabled = false\ncalls_per_minute = 8\n", env)
    assert got.enabled
    assert got.calls_per_minute == 120.0
    assert got.queues == (("support", 2.0), ("sales", 1.0))
    assert got.agents == ("2001", "2003")
    assert got.seed == 7
    assert got.patience_mean == 4.5
    assert got.break_reasons == ("tea", "training")
    assert load_settings(None, env={"ACD_DEMO_ENABLED": "1"}).demo.enabled  # no section


@pytest.mark.parametrize(
    ("text", "env", "field", "words"),
    [
        ("[demo]\nrate = 3\n", {}, "demo.rate", "unknown key"),
        ("demo = 3\n", {}, "demo", "table"),
        ('[demo]\nenabled = "yes"\n', {}, "demo.enabled", "true or false"),
        ("[demo]\ncalls_per_minute = 0\n", {}, "demo.calls_per_minute", "above 0"),
        ("[demo]\ncalls_per_minute = 6001\n", {}, "demo.calls_per_minute", "to 600"),
        ("[demo]\ntalk_mean = -1\n", {}, "demo.talk_mean", "above 0"),
        ("[demo]\nring = -1\n", {}, "demo.ring", "from 0"),
        ('[demo]\npatience_mean = "60"\n', {}, "demo.patience_mean", "number"),
        ("[demo]\nbreak_mean = 0\n", {}, "demo.break_mean", "above 0"),
        ("", {"ACD_DEMO_RING": "soon"}, "ACD_DEMO_RING", "number"),
        ("[demo]\nqueues = { support = 0 }\n", {}, "demo.queues", "above 0"),
        ('[demo]\nqueues = ["sup port"]\n', {}, "demo.queues", "not a queue name"),
        ('[demo]\nqueues = ["support", "support:2"]\n', {}, "demo.queues", "twice"),
        ("", {"ACD_DEMO_QUEUES": "support:lots"}, "demo.queues", "above 0"),
        ("[demo]\nqueues = 3\n", {}, "demo.queues", "table of queue = weight"),
        ('[demo]\nagents = ["20 01"]\n', {}, "demo.agents", "agent ids"),
        ("[demo]\nagents = [2001]\n", {}, "demo.agents", "agent ids"),
        ("[demo]\nseed = 1.5\n", {}, "demo.seed", "integer"),
        ("", {"ACD_DEMO_SEED": "x"}, "ACD_DEMO_SEED", "integer"),
        ("[demo]\nbreak_reasons = []\n", {}, "demo.break_reasons", "at least one"),
        ('[demo]\nbreak_reasons = [""]\n', {}, "demo.break_reasons", "pause reasons"),
    ],
)
def test_what_cannot_be_is_refused_clearly(
    tmp_path: Path, text: str, env: dict[str, str], field: str, words: str
) -> None:
    path = tmp_path / "acd.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_settings(path, env=env)
    assert refused.value.field == field
    assert words in refused.value.message
