"""Confidence intervals by batch means."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, fmean, stdev


def t_quantile(probability: float, degrees: int) -> float:
    """Student-t quantile by the Cornish-Fisher expansion around the normal quantile
    (Abramowitz & Stegun 26.7.5). Within 0.2 % of the exact value for 3+ degrees of
    freedom at the 95-99 % levels, which is all a confidence interval here needs."""
    if degrees < 1:
        raise ValueError("degrees of freedom must be >= 1")
    z = NormalDist().inv_cdf(probability)
    n = float(degrees)
    return (
        z
        + (z**3 + z) / (4 * n)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * n**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * n**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * n**4)
    )


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate and the half-width of its confidence interval (nan: undefined,
    e.g. no answered call at all, or fewer than two batches with data)."""

    value: float
    half_width: float

    @property
    def low(self) -> float:
        return self.value - self.half_width

    @property
    def high(self) -> float:
        return self.value + self.half_width

    def covers(self, truth: float) -> bool:
        return self.low <= truth <= self.high

    def as_dict(self) -> dict[str, float | None]:
        return {
            "value": None if math.isnan(self.value) else self.value,
            "ci_half_width": None if math.isnan(self.half_width) else self.half_width,
        }


def batch_means(values: Sequence[float], confidence: float) -> Estimate:
    """Mean of the batch values with a t interval; batches without data (nan) are left out."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return Estimate(math.nan, math.nan)
    if len(kept) < 2:
        return Estimate(kept[0], math.nan)
    spread = stdev(kept) / math.sqrt(len(kept))
    return Estimate(fmean(kept), t_quantile(0.5 + confidence / 2, len(kept) - 1) * spread)
