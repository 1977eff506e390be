import math

import numpy as np
import pytest

from drive.benchmarks.stats import aggregate, format_mean_std, mean_std


def test_hand_computed():
    mean, std = mean_std([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert std == pytest.approx(math.sqrt(5.0 / 3.0))  # sum of squares 5, ddof 1


def test_matches_numpy_sample_std():
    values = np.random.default_rng(0).normal(size=7)
    mean, std = mean_std(values)
    assert mean == pytest.approx(values.mean())
    assert std == pytest.approx(values.std(ddof=1))


def test_single_value_and_bad_input():
    assert mean_std([3.0]) == (3.0, 0.0)
    with pytest.raises(ValueError):
        mean_std([])
    with pytest.raises(ValueError):
        mean_std([1.0, float("nan")])


def test_aggregate_and_format():
    rows = [{"a": 1.0, "b": 4.0}, {"a": 3.0, "b": 4.0}]
    out = aggregate(rows, ["a", "b"])
    assert out["a"] == pytest.approx((2.0, math.sqrt(2.0)))
    assert out["b"] == (4.0, 0.0)
    assert format_mean_std(2.0, 0.25, 2) == "2.00 ± 0.25"
