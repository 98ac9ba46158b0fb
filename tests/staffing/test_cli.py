from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from acd.staffing.cli import register

DOCS_SCENARIO = Path(__file__).resolve().parents[2] / "docs" / "staffing-scenario.toml"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="acd")
    register(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def test_erlang_finds_the_agents_for_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["erlang", "--rate", "200", "--aht", "180", "--target-sl", "0.8", "--threshold", "20"]
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert "agents needed     14" in out
    assert "SL 20 s   abandons_against  88.8%" in out
    assert "ASA               7.8 s" in out


def test_erlang_a_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["erlang", "--rate", "200", "--aht", "180", "--agents", "11", "--threshold", "20"]
    assert run([*argv, "--patience", "120", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["model"] == "erlang_a"
    assert document["agents"] == 11
    assert set(document["service_level"]) == {"ignore_abandons", "abandons_against", "abandons_for"}
    assert 0 < document["abandon_rate"] < 0.2


def test_erlang_overload_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["erlang", "--rate", "400", "--aht", "180", "--agents", "15", "--threshold", "20"]
    assert run([*argv, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["stable"] is False
    assert document["asa_seconds"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["erlang", "--rate", "x", "--aht", "1", "--agents", "1", "--threshold", "1"], "--rate"),
        (["erlang", "--rate", "1", "--aht", "-3", "--agents", "1", "--threshold", "1"], "--aht"),
        (
            ["erlang", "--rate", "1", "--aht", "1", "--target-sl", "1.2", "--threshold", "1"],
            "0 and 1",
        ),
        (["erlang", "--rate", "1", "--aht", "1", "--threshold", "1"], "--agents"),
        (["simulate", "--rate", "1", "--agents", "0"], "--agents"),
        (["simulate", "--hours", "0"], "--hours"),
    ],
)
def test_bad_arguments_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rate", "100", "--aht", "180"], "--agents, --threshold: required without --scenario"),
        (["--scenario", "/nonexistent.toml"], "No such file"),
        (["--scenario", str(DOCS_SCENARIO), "--rate", "5"], "--rate: is set per queue"),
    ],
)
def test_simulate_reports_bad_setups_cleanly(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["simulate", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_simulate_rejects_malformed_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text("[[queues]\nname = 1\n")
    assert run(["simulate", "--scenario", str(scenario)]) == 2
    assert "bad.toml" in capsys.readouterr().err


def test_simulate_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "waits.png"
    argv = ["simulate", "--rate", "200", "--aht", "180", "--agents", "12", "--threshold", "20"]
    argv += ["--patience", "120", "--hours", "4", "--seed", "3", "--json", "--plot", str(plot)]
    assert run(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["analytic"]["model"] == "erlang_a"
    queue = document["queues"][0]
    assert queue["offered"] == queue["answered"] + queue["abandoned"] + queue["short_abandoned"]
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_simulate_runs_the_documented_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["simulate", "--scenario", str(DOCS_SCENARIO), "--hours", "2", "--progress"]) == 0
    captured = capsys.readouterr()
    assert "queue sales:" in captured.out
    assert "group support-team" in captured.out
    assert "100%" in captured.err


def test_simulate_sweep_compares_each_staffing_with_erlang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "sweep.png"
    argv = ["simulate", "--rate", "200", "--aht", "180", "--threshold", "20", "--sweep", "12:14"]
    assert run([*argv, "--hours", "3", "--json", "--plot", str(plot)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [row["agents"] for row in document["rows"]] == [12, 13, 14]
    assert document["rows"][2]["formula"] == pytest.approx(0.888, abs=5e-4)
    assert plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("sweep", ["5", "9:3", "a:b", "1:99"])
def test_simulate_sweep_rejects_bad_ranges(sweep: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run(["simulate", "--rate", "1", "--aht", "1", "--threshold", "1", "--sweep", sweep])
    assert "LOW:HIGH" in capsys.readouterr().err
