"""Scene cache: lossless round trip, parts built apart read as one, stale or damaged caches refused."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re

import numpy as np
import pytest

from drive.cli import main
from drive.data.cache import CachedScenes, build_cache, work_units
from drive.data.cache_arrays import read_arrays, write_arrays
from drive.datasets import iter_scenarios, womd
from drive.datasets.tfrecord import frame_record
from drive.errors import DataError
from tests.conftest import shared_path
from tests.datasets.test_womd import assert_scenarios_equal, make_scenario


@pytest.fixture
def raw_dir(tmp_path):
    """Four WOMD files of built scenes (one without lights or sdc), as N machines would see them."""
    folder = tmp_path / "raw"
    for f in range(4):
        scenes = [make_scenario(10 * f + k, num_agents=3 + k, num_steps=8 + f) for k in range(3)]
        if f == 1:
            scenes[0] = dataclasses.replace(scenes[0], sdc_idx=None, traffic_lights=None, extras={"a": 1})
        womd.write_scenarios(folder / f"part-{f}.tfrecord", scenes)
    return folder


def _all_raw(folder):
    return [s for path in sorted(folder.glob("*.tfrecord")) for s in iter_scenarios(path)]


def test_round_trip_is_lossless(raw_dir, tmp_path):
    report = build_cache([raw_dir], tmp_path / "cache", progress=False)
    assert report.loaded == 12 and not report.skipped
    cached = CachedScenes(tmp_path / "cache")
    checked = CachedScenes(tmp_path / "cache", validate=True)
    expected = _all_raw(raw_dir)
    assert len(cached) == len(expected)
    assert cached.scenario_ids == [s.scenario_id for s in expected]
    for i, scene in enumerate(expected):
        assert_scenarios_equal(scene, cached[i])
        assert_scenarios_equal(scene, checked[i])
        cached[i].validate()  # the unchecked construction yields a scene that passes validation
    assert_scenarios_equal(expected[-1], cached[-1])
    with pytest.raises(IndexError):
        cached[len(expected)]


def test_real_sample_round_trip(tmp_path):
    path = shared_path("womd", "motion_data_one_scenario.tfrecord")
    build_cache([path], tmp_path / "cache", progress=False)
    (scene,) = list(iter_scenarios(path))
    cached = CachedScenes(tmp_path / "cache")
    assert_scenarios_equal(scene, cached[0])
    assert (tmp_path / "cache" / "units" / "000000.scenes").stat().st_size < path.stat().st_size


def test_parts_built_apart_read_as_one(raw_dir, tmp_path):
    out = tmp_path / "cache"
    with pytest.raises(DataError, match=r"part\(s\) \[1, 2\] of 3 are missing"):
        build_cache([raw_dir], out, shard=(0, 3), progress=False)
        CachedScenes(out)
    for index in (2, 1):
        build_cache([raw_dir], out, shard=(index, 3), progress=False)
    cached = CachedScenes(out)
    expected = _all_raw(raw_dir)
    assert cached.scenario_ids == [s.scenario_id for s in expected]
    assert_scenarios_equal(expected[5], cached[5])
    with pytest.raises(DataError, match="built in 3 part"):
        build_cache([raw_dir], out, shard=(0, 2), progress=False)
    (raw_dir / "part-0.tfrecord").rename(raw_dir / "part-7.tfrecord")
    build_cache([raw_dir], out, shard=(1, 3), progress=False)
    with pytest.raises(DataError, match="built from different inputs"):
        CachedScenes(out)


def test_work_is_split_without_overlap(raw_dir):
    units = work_units([raw_dir])
    assert [len(u[1]) for u in units] == [1, 1, 1, 1]
    parts = [{k for k in range(len(units)) if k % 3 == i} for i in range(3)]
    assert set().union(*parts) == set(range(4)) and sum(len(p) for p in parts) == 4


def test_workers_give_the_same_cache(raw_dir, tmp_path):
    build_cache([raw_dir], tmp_path / "one", progress=False)
    build_cache([raw_dir], tmp_path / "two", workers=2, progress=False)
    one, two = CachedScenes(tmp_path / "one"), CachedScenes(tmp_path / "two")
    for i in range(len(one)):
        assert_scenarios_equal(one[i], two[i])
    for unit in ("000000", "000003"):
        assert (tmp_path / "one/units" / f"{unit}.scenes").read_bytes() == (
            tmp_path / "two/units" / f"{unit}.scenes"
        ).read_bytes()


def test_skip_errors_in_cache(raw_dir, tmp_path):
    bad = raw_dir / "part-9.tfrecord"
    bad.write_bytes(frame_record(b"\xff\xff junk"))
    with pytest.raises(DataError, match="part-9.tfrecord: record 0: not a waymo"):
        build_cache([raw_dir], tmp_path / "strict", progress=False)
    report = build_cache([raw_dir], tmp_path / "lenient", skip_errors=True, progress=False)
    assert report.loaded == 12 and [s.record for s in report.skipped] == ["0"]
    assert len(CachedScenes(tmp_path / "lenient")) == 12


def test_stale_foreign_and_damaged_caches_are_refused(raw_dir, tmp_path):
    out = tmp_path / "cache"
    with pytest.raises(DataError, match="no manifest"):
        CachedScenes(out)
    build_cache([raw_dir], out, progress=False)
    manifest = out / "manifest-0000-of-0001.json"
    info = json.loads(manifest.read_text())

    manifest.write_text(json.dumps({**info, "schema_version": 0}))
    with pytest.raises(DataError, match="schema version 0.*rebuild it with `drive cache"):
        CachedScenes(out)
    manifest.write_text(json.dumps({"something": "else"}))
    with pytest.raises(DataError, match="not a drive scene cache manifest"):
        CachedScenes(out)
    manifest.write_text(json.dumps(info))
    unit = out / "units" / "000002.scenes"
    data = bytearray(unit.read_bytes())
    data[-100] ^= 0x01  # same size, one bit changed: found by the checksum on first use
    unit.write_bytes(bytes(data))
    cached = CachedScenes(out)
    cached[0]
    with pytest.raises(DataError, match="000002.scenes: checksum differs"):
        cached[7]
    unit.write_bytes(bytes(data[:-10]))
    with pytest.raises(DataError, match="000002.scenes: missing or changed"):
        CachedScenes(out)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        (("shard",), None, "shard"),
        (("shard", 1), 10**12, "shard"),
        (("inputs_digest",), [], "inputs_digest"),
        (("units",), None, "units"),
        (("units", 0), {}, "units[0].index"),
        (("units", 0, "file"), "../../etc/passwd", "units[0].file"),
        (("units", 0, "num_scenes"), "x", "units[0].num_scenes"),
        (("units", 0, "bytes"), -1, "units[0].bytes"),
        (("units", 0, "crc32c"), True, "units[0].crc32c"),
    ],
)
def test_damaged_manifest_fields_are_data_errors_naming_the_field(raw_dir, tmp_path, field, value, named):
    out = tmp_path / "cache"
    build_cache([raw_dir], out, progress=False)
    manifest = out / "manifest-0000-of-0001.json"
    info = json.loads(manifest.read_text())
    node = info
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    manifest.write_text(json.dumps(info))
    with pytest.raises(DataError, match=re.escape(f"field '{named}'")):
        CachedScenes(out)


def test_scene_count_differing_from_the_manifest_is_refused(raw_dir, tmp_path):
    out = tmp_path / "cache"
    build_cache([raw_dir], out, progress=False)
    manifest = out / "manifest-0000-of-0001.json"
    info = json.loads(manifest.read_text())
    info["units"][0]["num_scenes"] += 10**9  # must not index past the file, nor allocate for it
    manifest.write_text(json.dumps(info))
    cached = CachedScenes(out)
    with pytest.raises(DataError, match="000000.scenes: holds 3 scene.s., the manifest says"):
        cached[0]


def test_array_file_checks(tmp_path):
    path = tmp_path / "x.scenes"
    arrays = {
        "a": np.arange(5, dtype=np.int16),
        "b": np.zeros((0, 2), np.float32),
        "c": np.array(["x", "yz"]),
    }
    write_arrays(path, arrays, {"k": 1})
    got, meta = read_arrays(path)
    assert meta == {"k": 1} and all(
        np.array_equal(got[k], v) and got[k].dtype == v.dtype for k, v in arrays.items()
    )
    path.write_bytes(b"PK\x03\x04 a zip, not ours")
    with pytest.raises(DataError, match="not a drive scene cache file"):
        read_arrays(path)


def test_dataset_pickles_for_loader_workers(raw_dir, tmp_path):
    build_cache([raw_dir], tmp_path / "cache", progress=False)
    cached = CachedScenes(tmp_path / "cache")
    cached[0]
    clone = pickle.loads(pickle.dumps(cached))
    assert_scenarios_equal(cached[7], clone[7])


def test_command(raw_dir, tmp_path, capsys):
    out = tmp_path / "cache"
    assert (
        main(["cache", str(raw_dir), "--out", str(out), "--workers", "1", "--shard", "0/1", "--quiet"]) == 0
    )
    assert "loaded 12 scenario(s), skipped 0" in capsys.readouterr().err
    assert len(CachedScenes(out)) == 12
    with pytest.raises(SystemExit) as info:
        main(["cache", str(raw_dir), "--out", str(out), "--shard", "3/2"])
    assert info.value.code == 2 and "argument --shard: need 0 <= I < N, got '3/2'" in capsys.readouterr().err
    a_file = tmp_path / "cache.png"
    a_file.write_bytes(b"")
    for out_arg, message in ((a_file, "is a file"), (a_file / "sub", "cannot create")):
        assert main(["cache", str(raw_dir), "--out", str(out_arg), "--quiet"]) == 1
        err = capsys.readouterr().err
        assert str(out_arg) in err and message in err and len(err.strip().splitlines()) == 1


def test_loaded_scenes_are_writable_copies(raw_dir, tmp_path):
    build_cache([raw_dir], tmp_path / "cache", progress=False)
    scene = CachedScenes(tmp_path / "cache")[4]
    assert scene.agents.position.flags.writeable and scene.map.points.flags.writeable
    assert not np.shares_memory(scene.agents.position, CachedScenes(tmp_path / "cache")[4].agents.position)


def test_bench_script_reports_its_keys(tmp_path):
    import importlib.util

    from tests.conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location("bench_data", REPO_ROOT / "scripts" / "bench_data.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path / "raw.tfrecord"
    womd.write_scenarios(path, [make_scenario(k) for k in range(3)])
    raw = bench.bench_raw(path, 3)
    cached = bench.bench_cached(path, tmp_path / "cache", 10)
    assert raw["womd_raw_scenarios_per_s_per_core"] > 0 and cached["cached_scenes_per_s"] > 0


def test_other_sources_round_trip(tmp_path):
    """Argoverse 2 and ETH/UCY scenes come back equal too (the cache is source-agnostic)."""
    inputs = [
        shared_path("av2", "forecasting_scenarios"),
        shared_path("eth_ucy", "eth", "test", "biwi_eth.txt"),
    ]
    build_cache(inputs, tmp_path / "cache", progress=False)
    expected = [s for path in inputs for s in iter_scenarios(path)]
    cached = CachedScenes(tmp_path / "cache")
    assert sorted(cached.scenario_ids) == sorted(s.scenario_id for s in expected)
    by_id = {cached.scenario_ids[i]: i for i in range(len(cached))}
    for scene in expected[:40]:
        assert_scenarios_equal(scene, cached[by_id[scene.scenario_id]])


def test_numpy_extras_are_stored_as_numbers():
    scene = dataclasses.replace(make_scenario(0), extras={"n": np.int64(3), "x": np.float32(0.5)})
    from drive.data.cache_arrays import PackedScenes, pack_scenes

    again = PackedScenes(pack_scenes([scene]), "memory").scenario(0)
    assert again.extras == {"n": 3, "x": 0.5} and type(again.extras["n"]) is int
