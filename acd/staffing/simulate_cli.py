"""`acd simulate`: run the real router against simulated traffic and report what it achieved."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import IO, Any

from acd.config import ConfigError
from acd.staffing.cli_types import fraction, non_negative_float, positive_float, positive_int
from acd.staffing.erlang import StaffingFigures, Treatment, figures
from acd.staffing.report import QueueFigures, SimulationReport, summarise
from acd.staffing.scenario import HandleDistribution, Scenario, load_scenario, single_queue
from acd.staffing.simulation import SimulationError, SimulationRun, simulate
from acd.staffing.stats import Estimate

SINGLE_QUEUE_ONLY = ("rate", "aht", "agents", "threshold", "patience", "wrap_up")


def register_simulate(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="discrete-event simulation of traffic through the real router",
        description=(
            "Poisson arrivals, exponential or lognormal handle times and exponential patience, "
            "routed by the same Router object `acd serve` uses. Either one FCFS queue "
            "(--rate, --aht, --agents, --threshold; compared with Erlang C, or Erlang A with "
            "--patience) or a multi-queue, multi-skill --scenario FILE (TOML). Figures carry "
            "batch-means confidence intervals."
        ),
    )
    parser.add_argument("--rate", type=positive_float, metavar="CALLS_PER_HOUR")
    parser.add_argument(
        "--aht", type=positive_float, metavar="SECONDS", help="mean handle time (talk + wrap-up)"
    )
    parser.add_argument("--agents", type=positive_int, metavar="N")
    parser.add_argument("--threshold", type=non_negative_float, metavar="SECONDS")
    parser.add_argument(
        "--patience", type=positive_float, metavar="SECONDS", help="mean caller patience"
    )
    parser.add_argument(
        "--wrap-up",
        type=non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="queue wrap-up (part of --aht; default 0 as Erlang assumes)",
    )
    parser.add_argument(
        "--short-abandon",
        type=non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="abandons quicker than this count nowhere (default 0 for Erlang comparisons)",
    )
    parser.add_argument("--scenario", metavar="FILE", help="TOML scenario (see the README)")
    parser.add_argument(
        "--hours",
        type=positive_float,
        default=100.0,
        help="measured hours of arrivals (default 100)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--warmup",
        type=non_negative_float,
        default=0.5,
        metavar="HOURS",
        help="unmeasured start-up period (default 0.5)",
    )
    parser.add_argument(
        "--handle-dist",
        choices=[d.value for d in HandleDistribution],
        default=None,
        help="handle-time distribution (default exponential, or the scenario's)",
    )
    parser.add_argument(
        "--handle-cv",
        type=positive_float,
        default=None,
        metavar="CV",
        help="lognormal coefficient of variation (default 1)",
    )
    parser.add_argument("--batches", type=positive_int, default=20, help="batch count (20)")
    parser.add_argument("--confidence", type=fraction, default=0.95, help="confidence level (0.95)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="write a plot: the wait distribution, or with --sweep the service level by agents",
    )
    parser.add_argument(
        "--sweep",
        type=agent_range,
        metavar="LOW:HIGH",
        help="single queue: simulate every agent count in LOW..HIGH and compare with Erlang",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="progress bar on stderr even when it is not a terminal",
    )
    parser.set_defaults(func=run_simulate)


def agent_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition(":")
    try:
        bounds = (int(low), int(high)) if sep else (0, 0)
    except ValueError:
        bounds = (0, 0)
    if not 1 <= bounds[0] <= bounds[1] or bounds[1] - bounds[0] > 50:
        raise argparse.ArgumentTypeError(
            f"expected LOW:HIGH agent counts, 1 <= LOW <= HIGH <= LOW + 50, got {text!r}"
        )
    return bounds


def _scenario_from(args: argparse.Namespace) -> Scenario:
    if args.scenario is not None:
        given = [f"--{k.replace('_', '-')}" for k in SINGLE_QUEUE_ONLY if _was_given(args, k)]
        if given:
            raise ConfigError(given[0], "is set per queue or group in the scenario file")
        scenario = load_scenario(args.scenario)
        if args.handle_dist is not None or args.handle_cv is not None:
            scenario = Scenario(
                scenario.queues,
                scenario.groups,
                HandleDistribution(args.handle_dist or scenario.handle_distribution),
                args.handle_cv or scenario.handle_cv,
            )
        return scenario
    missing = [f"--{k}" for k in ("rate", "aht", "agents", "threshold") if getattr(args, k) is None]
    if missing:
        raise ConfigError(", ".join(missing), "required without --scenario")
    return single_queue(
        args.rate,
        args.aht,
        args.agents,
        args.threshold,
        patience=args.patience,
        wrap_up=args.wrap_up,
        short_abandon=args.short_abandon,
        handle_distribution=HandleDistribution(args.handle_dist or "exponential"),
        handle_cv=args.handle_cv or 1.0,
    )


def _was_given(args: argparse.Namespace, key: str) -> bool:
    value = getattr(args, key)
    return value is not None and not (key == "wrap_up" and value == 0.0)


class ProgressBar:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._shown = -1

    def __call__(self, fraction_done: float) -> None:
        percent = int(fraction_done * 100)
        if percent == self._shown:
            return
        self._shown = percent
        filled = percent * 30 // 100
        self._stream.write(f"\rsimulating [{'#' * filled}{'.' * (30 - filled)}] {percent:3d}%")
        if percent >= 100:
            self._stream.write("\n")
        self._stream.flush()


def run_simulate(args: argparse.Namespace) -> int:
    if args.sweep is not None:
        if args.agents is not None:
            print("acd simulate: error: give --agents or --sweep, not both", file=sys.stderr)
            return 2
        args.agents = args.sweep[0]
    try:
        scenario = _scenario_from(args)
    except ConfigError as exc:
        print(f"acd simulate: error: {exc}", file=sys.stderr)
        return 2
    progress = ProgressBar(sys.stderr) if args.progress or sys.stderr.isatty() else None
    if args.sweep is not None:
        if args.scenario is not None:
            print(
                "acd simulate: error: --sweep needs a single queue, not --scenario", file=sys.stderr
            )
            return 2
        return _run_sweep(args, progress)
    try:
        run = simulate(scenario, args.hours, args.seed, args.warmup, progress)
        report = summarise(run, args.batches, args.confidence)
    except (ValueError, SimulationError) as exc:
        print(f"acd simulate: error: {exc}", file=sys.stderr)
        return 2
    analytic = _analytic(args, scenario)
    if args.plot:
        from acd.staffing.plot import plot_waits

        try:
            plot_waits(run, args.plot, analytic)
        except OSError as exc:
            print(f"acd simulate: error: cannot write {args.plot}: {exc}", file=sys.stderr)
            return 2
    if args.json:
        document: dict[str, Any] = {"seed": args.seed, **report.as_dict()}
        if analytic is not None:
            document["analytic"] = analytic.as_dict()
        print(json.dumps(document, indent=2))
    else:
        print(format_report(report, analytic, run))
    return 0


def _analytic(args: argparse.Namespace, scenario: Scenario) -> StaffingFigures | None:
    """Erlang C / A for the single-queue case when its assumptions hold."""
    if args.scenario is not None or args.wrap_up or scenario.handle_distribution != "exponential":
        return None
    return figures(args.rate / 3600.0, args.aht, args.agents, args.threshold, args.patience)


def _estimate(value: Estimate, percent: bool) -> str:
    if math.isnan(value.value):
        return "n/a"
    scale, unit = (100.0, "%") if percent else (1.0, " s")
    text = f"{value.value * scale:.1f}{unit}"
    if not math.isnan(value.half_width):
        text += f" ± {value.half_width * scale:.1f}"
    return text


def _queue_lines(figures_: QueueFigures, analytic: StaffingFigures | None) -> list[str]:
    t = figures_.totals
    lines = [
        f"queue {figures_.name}: offered {t.offered}, answered {t.answered}, "
        f"abandoned {t.abandoned} (+{t.short_abandoned} short), exited {t.exited}, "
        f"overflowed {t.overflowed}"
    ]
    rows: list[tuple[str, str, str]] = [
        (
            f"SL {tr.value}",
            _estimate(figures_.service_level[tr], True),
            f"{100 * analytic.service_level(tr):.1f}%" if analytic else "",
        )
        for tr in Treatment
    ]
    rows.append(
        (
            "ASA",
            _estimate(figures_.asa, False),
            f"{analytic.asa:.1f} s" if analytic and math.isfinite(analytic.asa) else "",
        )
    )
    rows.append(
        (
            "abandon rate",
            _estimate(figures_.abandon_rate, True),
            f"{100 * analytic.abandon_rate:.1f}%" if analytic else "",
        )
    )
    for label, simulated, formula in rows:
        lines.append(f"  {label:<20} {simulated:<18} {formula}".rstrip())
    return lines


def format_report(
    report: SimulationReport, analytic: StaffingFigures | None, run: SimulationRun
) -> str:
    level = f"{100 * report.confidence:g}%"
    model = ""
    if analytic is not None:
        model = "Erlang A" if analytic.model == "erlang_a" else "Erlang C"
    lines = [
        f"simulated {report.hours:g} h after warm-up, {len(run.calls)} calls, "
        f"{report.router_events} router events; ± = {level} CI over {report.batches} batches",
        f"  {'':<20} {'simulated':<18} {model}".rstrip(),
    ]
    for queue in report.queues:
        lines.extend(_queue_lines(queue, analytic))
    if len(report.queues) > 1:
        lines.extend(_queue_lines(report.total, None))
    occupancy = f"{100 * analytic.occupancy:.1f}%" if analytic else ""
    lines.append(f"occupancy {'':<12} {_estimate(report.occupancy, True):<18} {occupancy}".rstrip())
    if len(report.group_occupancy) > 1:
        for name, value in report.group_occupancy.items():
            lines.append(f"  group {name:<14} {_estimate(value, True)}")
    return "\n".join(lines)


def _run_sweep(args: argparse.Namespace, progress: ProgressBar | None) -> int:
    """Service level for each agent count: simulated (with CI) next to Erlang C / A."""
    low, high = args.sweep
    rows = []
    for count, agents in enumerate(range(low, high + 1)):
        args.agents = agents
        scenario = _scenario_from(args)
        try:
            run = simulate(scenario, args.hours, args.seed, args.warmup)
            report = summarise(run, args.batches, args.confidence)
        except (ValueError, SimulationError) as exc:
            print(f"acd simulate: error: {exc}", file=sys.stderr)
            return 2
        level = report.queues[0].service_level[Treatment.ABANDONS_AGAINST]
        analytic = _analytic(args, scenario)
        rows.append((agents, level, analytic.service_level() if analytic else math.nan))
        if progress is not None:
            progress((count + 1) / (high - low + 1))
    model = "Erlang A" if args.patience is not None else "Erlang C"
    if args.json:
        document = [
            {"agents": a, "simulated": e.as_dict(), "formula": None if math.isnan(f) else f}
            for a, e, f in rows
        ]
        print(json.dumps({"treatment": "abandons_against", "model": model, "rows": document}))
    else:
        print(f"agents  simulated SL (abandons_against)  {model}")
        for agents, level, formula in rows:
            print(f"{agents:>6}  {_estimate(level, True):<31}  {100 * formula:.1f}%")
    if args.plot:
        from acd.staffing.plot import plot_service_level_by_agents

        title = f"{args.rate:g} calls/h, AHT {args.aht:g} s, T = {args.threshold:g} s" + (
            f", patience {args.patience:g} s" if args.patience else ""
        )
        try:
            plot_service_level_by_agents(
                [(a, e.value, e.half_width) for a, e, _ in rows],
                [(a, f) for a, _, f in rows],
                args.plot,
                title,
                model,
            )
        except OSError as exc:
            print(f"acd simulate: error: cannot write {args.plot}: {exc}", file=sys.stderr)
            return 2
    return 0
