"""The interaction benchmark's tensor-memory accounting."""

from __future__ import annotations

import torch

from tests.benchmarks.scripts import load_script


def _bench_interaction():
    return load_script("bench_interaction")


def test_peak_tensor_bytes_is_the_largest_simultaneous_holding() -> None:
    bench = _bench_interaction()

    def sequential() -> None:  # 4 KB, freed, then 8 KB: the peak is 8 KB, not their sum
        a = torch.empty(1024)
        del a
        b = torch.empty(2048)
        del b

    def overlapping() -> None:  # 4 KB and 8 KB alive together
        a = torch.empty(1024)
        b = torch.empty(2048)
        del a, b

    assert bench.peak_tensor_bytes(sequential) == 8192
    assert bench.peak_tensor_bytes(overlapping) == 4096 + 8192


def test_a_row_reports_both_memory_figures() -> None:
    bench = _bench_interaction()
    row = bench.measure("drope_rope", 16, "fwdbwd", repeats=1, max_seconds=0.1, device="cpu", threads=1)
    assert row["peak_tensor_bytes"] > 0 and row["peak_mem_bytes"] >= 0
    assert row["median_s"] > 0


def test_interleaved_timing_samples_every_encoding_in_blocks() -> None:
    bench = _bench_interaction()
    times = bench.interleaved_times(["absolute", "drope_rope"], 8, "fwd", 0.05, "cpu", 1)
    assert set(times) == {"absolute", "drope_rope"}
    for row in times.values():
        # Whole blocks only (the untimed first call of each block is not a sample), the same count for both.
        assert row["runs"] % bench.INTERLEAVE_BLOCK == 0 and row["runs"] == times["absolute"]["runs"]
        assert 0 < row["min_s"] <= row["median_s"]
