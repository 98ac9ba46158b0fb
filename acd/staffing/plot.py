"""PNG plots of simulation results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

from acd.staffing.erlang import StaffingFigures, figures
from acd.staffing.simulation import SimulationRun

#: Points on the analytic curve.
CURVE_POINTS = 60


def _answered_within(run: SimulationRun, queue: str, limits: list[float]) -> list[float]:
    """Fraction of measured calls (short abandons and exits left out, as in the
    abandons_against service level) answered within each limit."""
    waits: list[float] = []
    counted = 0
    short_abandon = next(
        t.queue.short_abandon for t in run.scenario.queues if t.queue.name == queue
    )
    for call in run.calls:
        if call.queue != queue or call.arrived_at < run.start:
            continue
        if call.answered_at is not None:
            waits.append(call.answered_at - call.arrived_at)
            counted += 1
        elif call.abandoned_at is not None and call.abandoned_at - call.arrived_at >= short_abandon:
            counted += 1
    waits.sort()
    fractions = []
    index = 0
    for limit in limits:
        while index < len(waits) and waits[index] <= limit:
            index += 1
        fractions.append(index / counted if counted else 0.0)
    return fractions


def plot_waits(run: SimulationRun, path: str | Path, analytic: StaffingFigures | None) -> None:
    """Share of calls answered within t against t, per queue, with the Erlang curve when
    `analytic` is given (single-queue runs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thresholds = [t.queue.sl_threshold for t in run.scenario.queues]
    longest = max(4.0 * max(thresholds), 60.0)
    limits = [longest * i / (CURVE_POINTS - 1) for i in range(CURVE_POINTS)]
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for traffic in run.scenario.queues:
        name = traffic.queue.name
        ax.step(
            limits, _answered_within(run, name, limits), where="post", label=f"simulated: {name}"
        )
    if analytic is not None:
        traffic = run.scenario.queues[0]
        patience = traffic.patience
        curve = [
            figures(
                traffic.rate, traffic.aht, analytic.agents, limit, patience
            ).outcomes.answered_in
            for limit in limits
        ]
        label = "Erlang A" if patience is not None else "Erlang C"
        ax.plot(limits, curve, "k--", label=f"{label}, {analytic.agents} agents")
    for threshold in sorted(set(thresholds)):
        ax.axvline(threshold, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("t (seconds)")
    ax.set_ylabel("answered within t / offered")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, longest)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Wait distribution through the router")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_service_level_by_agents(
    points: list[tuple[int, float, float]],
    curve: list[tuple[int, float]],
    path: str | Path,
    title: str,
    formula_label: str = "formula",
) -> None:
    """Simulated service level (value, CI half-width) per agent count against the formula."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    ax.plot([a for a, _ in curve], [s for _, s in curve], "k--", marker=".", label=formula_label)
    ax.errorbar(
        [a for a, _, _ in points],
        [v for _, v, _ in points],
        yerr=[h for _, _, h in points],
        fmt="o",
        capsize=4,
        label="simulated through the router (CI)",
    )
    ax.set_xlabel("agents")
    ax.set_ylabel("service level (answered within T / offered)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
