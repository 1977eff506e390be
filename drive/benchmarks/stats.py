"""Aggregation over seeds: mean and sample standard deviation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """``(mean, sample std with ddof=1)``; the std of a single value is 0. Raises ValueError when empty
    or when a value is not finite (a diverged run must not hide in an average)."""
    data = [float(v) for v in values]
    if not data:
        raise ValueError("mean_std: no values")
    if not all(math.isfinite(v) for v in data):
        raise ValueError(f"mean_std: non-finite value in {data}")
    mean = sum(data) / len(data)
    if len(data) == 1:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in data) / (len(data) - 1)
    return mean, math.sqrt(var)


def aggregate(rows: Sequence[Mapping[str, float]], keys: Sequence[str]) -> dict[str, tuple[float, float]]:
    """``key -> (mean, std)`` over ``rows`` (one row per seed) for each of ``keys``."""
    return {key: mean_std(row[key] for row in rows) for key in keys}


def format_mean_std(mean: float, std: float, digits: int = 3) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"
