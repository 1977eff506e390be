"""The benchmark loop's batch order: every scene once per epoch, reproducible, and with bucketing each
batch holds scenes of similar size."""

from __future__ import annotations

import itertools

import numpy as np

from drive.benchmarks.training import BUCKET_BATCHES, batch_stream


def _epoch(sizes, batch_size, seed, bucket):
    stream = batch_stream(sizes, batch_size, np.random.default_rng(seed), bucket)
    batches, seen = [], 0
    while seen < len(sizes):
        batch = next(stream)
        batches.append(batch)
        seen += len(batch)
    return batches


def test_plain_stream_is_back_to_back_permutations():
    sizes = list(range(10))
    stream = batch_stream(sizes, 4, np.random.default_rng(3))
    flat = list(itertools.chain.from_iterable(itertools.islice(stream, 5)))  # 20 indices = 2 epochs
    rng = np.random.default_rng(3)
    expected = rng.permutation(10).tolist() + rng.permutation(10).tolist()
    assert flat == expected


def test_bucketed_epoch_covers_every_scene_once_and_groups_similar_sizes():
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 80, size=1000).tolist()
    batches = _epoch(sizes, 8, seed=1, bucket=True)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(1000))
    assert _epoch(sizes, 8, seed=1, bucket=True) == batches  # same seed, same order
    assert _epoch(sizes, 8, seed=2, bucket=True) != batches

    # Padding waste: each batch pads to its largest scene. Bucketing must cut it well below random batches.
    def padded(batch_list):
        return sum(len(b) * max(sizes[i] for i in b) for b in batch_list) / sum(sizes)

    plain = _epoch(sizes, 8, seed=1, bucket=False)
    assert padded(batches) < 1.2 < padded(plain)
    # Batches are shuffled, not sorted by size across the epoch.
    largest = [max(sizes[i] for i in b) for b in batches]
    assert largest != sorted(largest)
    assert len(batches) == 2 * BUCKET_BATCHES + 25  # windows of 400, 400 and 200 scenes, 8 a batch
