"""`acd erlang` and `acd simulate`: staffing figures from formulas and from the real router."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from acd.staffing.cli_types import fraction, non_negative_float, positive_float, positive_int
from acd.staffing.erlang import StaffingFigures, Treatment, agents_for_target, figures

SECONDS_PER_HOUR = 3600.0


def register(subparsers: Any) -> None:
    from acd.staffing.simulate_cli import register_simulate

    _register_erlang(subparsers)
    register_simulate(subparsers)


# --- acd erlang ----------------------------------------------------------------------------


def _register_erlang(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "erlang",
        help="staffing figures from Erlang C (or Erlang A with --patience)",
        description=(
            "Probability of waiting, service level, ASA and occupancy for a single queue with "
            "Poisson arrivals and exponential handle times (Erlang C), or with exponential "
            "caller patience (Erlang A, M/M/N+M) when --patience is given. With --target-sl, "
            "the fewest agents that reach the target."
        ),
    )
    parser.add_argument("--rate", type=positive_float, required=True, metavar="CALLS_PER_HOUR")
    parser.add_argument(
        "--aht", type=positive_float, required=True, metavar="SECONDS", help="mean handle time"
    )
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--agents", type=positive_int, metavar="N")
    size.add_argument(
        "--target-sl", type=fraction, metavar="FRACTION", help="e.g. 0.8: find the agents needed"
    )
    parser.add_argument(
        "--threshold",
        type=non_negative_float,
        required=True,
        metavar="SECONDS",
        help="service-level threshold T (answered within T)",
    )
    parser.add_argument(
        "--patience",
        type=positive_float,
        metavar="SECONDS",
        help="mean caller patience: switches to Erlang A",
    )
    parser.add_argument(
        "--treatment",
        choices=[t.value for t in Treatment],
        default=Treatment.ABANDONS_AGAINST.value,
        help="service-level treatment the target applies to (default: abandons_against, "
        "i.e. answered within T / offered)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run_erlang)


def run_erlang(args: argparse.Namespace) -> int:
    rate = args.rate / SECONDS_PER_HOUR
    treatment = Treatment(args.treatment)
    try:
        if args.agents is not None:
            result = figures(rate, args.aht, args.agents, args.threshold, args.patience)
        else:
            result = agents_for_target(
                rate, args.aht, args.threshold, args.target_sl, args.patience, treatment
            )
    except ValueError as exc:
        print(f"acd erlang: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        document = result.as_dict()
        document["rate_per_hour"] = args.rate
        document["aht_seconds"] = args.aht
        document["patience_seconds"] = args.patience
        if args.target_sl is not None:
            document["target_sl"] = args.target_sl
            document["target_treatment"] = treatment.value
        print(json.dumps(document, indent=2))
    else:
        print(format_figures(result, args.target_sl, treatment))
    return 0


def _percent(value: float) -> str:
    return f"{100.0 * value:.1f}%"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if math.isfinite(value) else "unbounded"


def format_figures(result: StaffingFigures, target: float | None, treatment: Treatment) -> str:
    name = "Erlang A (M/M/N+M)" if result.model == "erlang_a" else "Erlang C (M/M/N)"
    lines = [f"{name}: offered load {result.offered_load:.2f} erlangs"]
    if target is not None:
        lines.append(
            f"agents needed     {result.agents}  (target {_percent(target)} {treatment.value})"
        )
    else:
        lines.append(f"agents            {result.agents}")
    if not result.stable:
        lines.append("UNSTABLE: agents <= offered load, the queue grows without bound")
    lines.append(f"P(wait)           {_percent(result.p_wait)}")
    threshold = f"{result.threshold:g} s"
    for t in Treatment:
        lines.append(f"SL {threshold:<6} {t.value:<17} {_percent(result.service_level(t))}")
    lines.append(f"ASA               {_seconds(result.asa)}")
    if result.model == "erlang_a":
        lines.append(f"abandon rate      {_percent(result.abandon_rate)}")
    lines.append(f"occupancy         {_percent(result.occupancy)}")
    return "\n".join(lines)
