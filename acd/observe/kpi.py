"""Service-level arithmetic, as pure functions over the contract's definitions.

With threshold T (the queue's `sl_threshold`) and one queue visit's wait (entry → answer or
abandon):

    A_in  answered with wait <= T        A_out  answered with wait > T
    B_in  abandoned with wait <= T       B_out  abandoned with wait > T

"Within T" includes T itself (a call answered at exactly 20 s meets a 20 s target). Only
abandoned (lost) calls enter B; short abandons (wait < the queue's short_abandon) count
nowhere, nor do overflows, exits and unfinished calls.

    ignore_abandons  = A_in / (A_in + A_out + B_out)
    abandons_against = A_in / (A_in + A_out + B_in + B_out)
    abandons_for     = (A_in + B_in) / (A_in + A_out + B_in + B_out)

Empty denominators give None, not 0 or 1: with no answered or abandoned call there is no
service level to report, and either number would be a lie a wallboard shows as red or green.
The API and reports show it as null; the Prometheus gauge exports NaN (an alert such as
`acd_service_level_ratio < 0.8` never fires on NaN, and the series stays visible).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Treatment(enum.StrEnum):
    IGNORE_ABANDONS = "ignore_abandons"
    ABANDONS_AGAINST = "abandons_against"
    ABANDONS_FOR = "abandons_for"


class Outcome(enum.StrEnum):
    """How one queue visit ended, as far as the service level is concerned."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    SHORT_ABANDONED = "short_abandoned"
    OVERFLOWED = "overflowed"
    EXITED = "exited"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class SlCounts:
    a_in: int = 0
    a_out: int = 0
    b_in: int = 0
    b_out: int = 0

    def __add__(self, other: SlCounts) -> SlCounts:
        return SlCounts(
            self.a_in + other.a_in,
            self.a_out + other.a_out,
            self.b_in + other.b_in,
            self.b_out + other.b_out,
        )


def is_short_abandon(wait: float, short_abandon: float) -> bool:
    """A caller who hung up before `short_abandon` seconds is a short abandon, not a lost call
    (at exactly the threshold the call counts as abandoned)."""
    return wait < short_abandon


def classify(outcome: str, wait: float, threshold: float) -> SlCounts:
    """One queue visit's contribution to the four counts (all zero when it counts nowhere)."""
    within = wait <= threshold
    if outcome == Outcome.ANSWERED:
        return SlCounts(a_in=1) if within else SlCounts(a_out=1)
    if outcome == Outcome.ABANDONED:
        return SlCounts(b_in=1) if within else SlCounts(b_out=1)
    return SlCounts()


def tally(visits: Iterable[tuple[str, float, float]]) -> SlCounts:
    """Sum `classify` over (outcome, wait, threshold) triples."""
    total = SlCounts()
    for outcome, wait, threshold in visits:
        total = total + classify(outcome, wait, threshold)
    return total


def service_level(counts: SlCounts, treatment: Treatment) -> float | None:
    a_in, a_out, b_in, b_out = counts.a_in, counts.a_out, counts.b_in, counts.b_out
    if treatment is Treatment.IGNORE_ABANDONS:
        numerator, denominator = a_in, a_in + a_out + b_out
    elif treatment is Treatment.ABANDONS_AGAINST:
        numerator, denominator = a_in, a_in + a_out + b_in + b_out
    else:
        numerator, denominator = a_in + b_in, a_in + a_out + b_in + b_out
    return None if denominator == 0 else numerator / denominator


def service_levels(counts: SlCounts) -> dict[str, float | None]:
    """All three treatments, keyed by their contract names."""
    return {t.value: service_level(counts, t) for t in Treatment}


def mean(total: float, count: int) -> float | None:
    """ASA (total answered wait / answered), AHT (total handle / handled): None when count 0."""
    return None if count == 0 else total / count


def occupancy(on_calls: float, staffed: float) -> float | None:
    """Time on calls (ringing, talking, wrap-up) over staffed time (that plus available).
    Paused and logged-out time is in neither. None when the agent was never staffed."""
    return None if staffed <= 0 else on_calls / staffed
