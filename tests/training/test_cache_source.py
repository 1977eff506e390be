"""A split path may be a `drive cache` folder: training then reads the cache, with the same scenes."""

import numpy as np

from drive.data.cache import build_cache
from drive.training.sources import WomdDataModule
from tests.conftest import shared_path


def test_cache_folder_reads_the_same_scenes_as_the_raw_file(tmp_path):
    raw = shared_path("womd", "motion_data_one_scenario.tfrecord")
    build_cache([raw], tmp_path / "cache", progress=False)
    from_raw = WomdDataModule(train_path=str(raw)).load_split("train")
    from_cache = WomdDataModule(train_path=str(tmp_path / "cache")).load_split("train")
    assert [s.scenario_id for s in from_cache] == [s.scenario_id for s in from_raw] == ["637f20cafde22ff8"]
    a, b = from_raw[0].agents, from_cache[0].agents
    assert np.array_equal(a.position, b.position) and np.array_equal(a.valid, b.valid)
    assert np.array_equal(from_raw[0].map.points, from_cache[0].map.points)
