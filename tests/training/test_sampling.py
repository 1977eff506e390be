import numpy as np
import pytest

from drive.errors import ConfigError
from drive.training.sampling import ResumableDataLoader, SceneBatchSampler


class _Items:
    def __getitem__(self, item):
        return item[0]


def _flat(sampler):
    return [i for batch in sampler for i, _ in batch]


def test_order_depends_only_on_seed_and_epoch():
    a, b = SceneBatchSampler(23, 4, shuffle=True, seed=3), SceneBatchSampler(23, 4, shuffle=True, seed=3)
    assert list(a) == list(b)
    first = _flat(a)
    a.set_epoch(1)
    assert _flat(a) != first and sorted(_flat(a)) == sorted(first) == list(range(23))
    assert _flat(SceneBatchSampler(23, 4, shuffle=True, seed=4)) != first


def test_augmentation_seed_belongs_to_the_scene_not_the_position():
    sampler = SceneBatchSampler(10, 3, shuffle=True, seed=0)
    seeds = {i: s for batch in sampler for i, s in batch}
    plain = SceneBatchSampler(10, 3, shuffle=False, seed=0)
    assert seeds == {i: s for batch in plain for i, s in batch}


def test_shards_are_disjoint_equal_and_cover_everything():
    shards = [SceneBatchSampler(10, 2, shuffle=True, seed=1, rank=r, world_size=3) for r in range(3)]
    lengths = {len(s) for s in shards}
    items = [_flat(s) for s in shards]
    assert len(lengths) == 1 and {len(x) for x in items} == {4}  # ceil(10 / 3), tail wrapped
    assert set().union(*map(set, items)) == set(range(10))
    with pytest.raises(ConfigError, match="rank"):
        SceneBatchSampler(10, 2, shuffle=True, rank=3, world_size=3)


def test_loader_resumes_after_the_batches_it_handed_out():
    def loader():
        sampler = SceneBatchSampler(17, 3, shuffle=True, seed=5)
        return ResumableDataLoader(_Items(), batch_sampler=sampler, collate_fn=list)

    full = loader()
    full.batch_sampler.set_epoch(2)
    expected = [batch for batch in full]
    first = loader()
    first.batch_sampler.set_epoch(2)
    iterator = iter(first)
    seen = [next(iterator), next(iterator)]
    state = first.state_dict()
    assert state == {"epoch": 2, "batches_yielded": 2}
    resumed = loader()
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert seen + rest == expected
    assert np.array_equal(sorted(i for b in list(resumed) for i in b), np.arange(17))  # next pass is whole
