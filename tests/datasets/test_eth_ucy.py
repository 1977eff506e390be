"""ETH/UCY reader: the README's sample counts under both protocols, raw values, causality, bad rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drive.datasets import detect_source, eth_ucy, iter_scenarios
from drive.datasets.base import LoadReport
from drive.errors import ConfigError, DataError
from tests.conftest import shared_path

# README table: test scene -> (samples, windows) with every pedestrian, then with the Social-GAN rule.
README_COUNTS = {
    "eth": ((364, 253), (181, 70)),
    "hotel": ((1197, 445), (1053, 301)),
    "univ": ((24334, 947), (24334, 947)),
    "zara1": ((2356, 705), (2253, 602)),
    "zara2": ((5910, 998), (5833, 921)),
}


def root() -> Path:
    return shared_path("eth_ucy")


@pytest.mark.parametrize("scene", sorted(README_COUNTS))
@pytest.mark.parametrize("min_peds", [1, 2])
def test_readme_sample_counts(scene, min_peds):
    scenarios = list(eth_ucy.iter_scenarios(root(), scene=scene, split="test", min_peds=min_peds))
    samples = sum(len(s.target_idx) for s in scenarios)
    assert (samples, len(scenarios)) == README_COUNTS[scene][min_peds - 1]
    assert all(len(s.target_idx) >= min_peds for s in scenarios)


def test_default_protocol_keeps_every_fully_observed_pedestrian():
    default = list(eth_ucy.iter_scenarios(root() / "eth" / "test" / "biwi_eth.txt"))
    assert sum(len(s.target_idx) for s in default) == README_COUNTS["eth"][0][0]


def read_table(path: Path) -> dict[tuple[int, int], tuple[float, float]]:
    table = {}
    for line in path.read_text().splitlines():
        frame, ped, x, y = (float(v) for v in line.split("\t"))
        table[int(frame), int(ped)] = (x, y)
    return table


def test_windows_equal_raw_rows():
    path = root() / "eth" / "test" / "biwi_eth.txt"
    table = read_table(path)
    scenarios = list(eth_ucy.iter_scenarios(path))
    for scenario in scenarios[::10]:
        agents = scenario.agents
        assert scenario.num_steps == 20 and scenario.current_step == 7 and scenario.dt_s == 0.4
        assert scenario.source == "eth_ucy" and scenario.map.num_polylines == 0 and scenario.sdc_idx is None
        first = scenario.extras["first_frame"]
        assert scenario.scenario_id == f"biwi_eth/{first}"
        frames = [first + 10 * t for t in range(20)]
        in_window = sorted({ped for (frame, ped) in table if frame in frames})
        assert agents.ids.tolist() == in_window and (agents.types == 1).all()
        for a, ped in enumerate(agents.ids):
            for t, frame in enumerate(frames):
                assert agents.valid[a, t] == ((frame, ped) in table)
                if agents.valid[a, t]:
                    np.testing.assert_allclose(agents.position[a, t], table[frame, ped], atol=1e-5)
        full = [a for a in range(agents.num_agents) if agents.valid[a].all()]
        assert scenario.target_idx.tolist() == full


def causal_check(position, valid, current_step, rng):
    """Fields at steps <= current_step must not change when any future position changes."""
    dt_s = 0.4
    velocity = eth_ucy.finite_difference_velocity(position, valid, current_step, dt_s)
    heading = eth_ucy.heading_from_velocity(velocity, valid, current_step)
    changed = position.copy()
    changed[:, current_step + 1 :] += rng.normal(0.0, 3.0, changed[:, current_step + 1 :].shape)
    velocity2 = eth_ucy.finite_difference_velocity(changed, valid, current_step, dt_s)
    heading2 = eth_ucy.heading_from_velocity(velocity2, valid, current_step)
    past = slice(0, current_step + 1)
    np.testing.assert_array_equal(velocity[:, past], velocity2[:, past])
    np.testing.assert_array_equal(heading[:, past], heading2[:, past])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), current_step=st.integers(0, 18))
def test_velocity_and_heading_never_read_the_future(seed, current_step):
    rng = np.random.default_rng(seed)
    position = rng.normal(0.0, 2.0, (6, 20, 2))
    position[:, ::3] = position[:, 1::3][:, : position[:, ::3].shape[1]]  # some standing steps
    valid = rng.random((6, 20)) < 0.7
    causal_check(position, valid, current_step, rng)


def test_leak_changing_future_rows_changes_no_observed_field(tmp_path):
    path = root() / "zara1" / "test" / "crowds_zara01.txt"
    rows = eth_ucy.read_rows(path)
    rng = np.random.default_rng(0)
    originals = {s.scenario_id: s for s in eth_ucy.window_scenarios(rows, "zara")}
    for scenario_id in rng.choice(sorted(originals), 6, replace=False):
        first = originals[scenario_id].extras["first_frame"]
        future = (rows[:, 0] > first + 70) & (rows[:, 0] <= first + 190)
        changed = rows.copy()
        changed[future, 2:] += rng.normal(0.0, 2.0, (int(future.sum()), 2))
        after = next(s for s in eth_ucy.window_scenarios(changed, "zara") if s.scenario_id == scenario_id)
        before = originals[scenario_id]
        assert not np.array_equal(before.agents.position, after.agents.position)
        for name in ("position", "heading", "velocity", "valid"):
            np.testing.assert_array_equal(
                getattr(before.agents, name)[:, :8], getattr(after.agents, name)[:, :8], err_msg=name
            )


def test_velocity_and_heading_hand_computed():
    # one pedestrian: stands 2 steps, walks +x at 1 m per step, stands, then walks +y after the present
    xs = [0, 0, 0, 1, 2, 2, 2, 2, 2, 2]
    ys = [0, 0, 0, 0, 0, 0, 0, 0, 1, 2]
    position = np.array([list(zip(xs, ys))], np.float64)
    valid = np.ones((1, 10), bool)
    velocity = eth_ucy.finite_difference_velocity(position, valid, 7, 0.5)
    np.testing.assert_allclose(velocity[0, :, 0], [0, 0, 0, 2, 2, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(velocity[0, :, 1], [0, 0, 0, 0, 0, 0, 0, 0, 2, 2])
    heading = eth_ucy.heading_from_velocity(velocity, valid, 7)
    # standing before the first move takes the first observed moving heading; standing keeps it
    np.testing.assert_allclose(heading[0], [0, 0, 0, 0, 0, 0, 0, 0, math.pi / 2, math.pi / 2], atol=1e-7)
    # a track that starts at the current step has no observed neighbour: zero velocity there
    late = np.zeros((1, 10), bool)
    late[0, 7:] = True
    velocity = eth_ucy.finite_difference_velocity(position, late, 7, 0.5)
    np.testing.assert_allclose(velocity[0, 7], [0, 0])
    np.testing.assert_allclose(velocity[0, 8], [0, 2])
    # a track that starts in the history uses a forward difference inside the history
    early = np.zeros((1, 10), bool)
    early[0, 2:] = True
    velocity = eth_ucy.finite_difference_velocity(position, early, 7, 0.5)
    np.testing.assert_allclose(velocity[0, 2], [2, 0])
    heading = eth_ucy.heading_from_velocity(-velocity, early, 7)
    assert heading[0, 0] == 0 and heading[0, 3] == np.float32(-math.pi) and -math.pi <= heading.min()


def write(tmp_path: Path, text: str, name: str = "scene.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def track_rows(ped: int, frames, x0: float = 0.0) -> list[str]:
    return [f"{f}\t{ped}.0\t{x0 + 0.1 * i:.2f}\t1.00" for i, f in enumerate(frames)]


def test_windowing_over_unique_frames_and_gaps(tmp_path):
    # 25 evenly spaced frames with ped 1 throughout, ped 2 on the last 20; then a gap of 500 frames
    frames = list(range(0, 250, 10))
    lines = track_rows(1, frames) + track_rows(2, frames[5:], 5.0) + track_rows(3, range(750, 950, 10))
    scenarios = list(eth_ucy.iter_scenarios(write(tmp_path, "\n".join(lines) + "\n")))
    # windows start at frames 0..50 (6 windows over ped 1's frames); the ones crossing 240 -> 750 hold
    # no evenly spaced 20 frames; the window 750..940 holds ped 3 alone
    assert [s.scenario_id for s in scenarios] == [f"scene/{f}" for f in (0, 10, 20, 30, 40, 50, 750)]
    assert [len(s.target_idx) for s in scenarios] == [1, 1, 1, 1, 1, 2, 1]
    assert scenarios[0].agents.ids.tolist() == [1, 2] and scenarios[0].agents.valid[1].sum() == 15
    strict = list(eth_ucy.iter_scenarios(tmp_path / "scene.txt", min_peds=2))
    assert [s.scenario_id for s in strict] == ["scene/50"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("10\t1.0\t0.5", "expected 4 numeric columns"),
        ("10\t1.0\t0.5\t1.0\t7", "expected 4 numeric columns"),
        ("10\t1.0\tabc\t1.0", "expected 4 numeric columns"),
        ("10\t1.0\tnan\t1.0", "non-finite"),
        ("10\t1.0\t0.5\tinf", "non-finite"),
        ("10.5\t1.0\t0.5\t1.0", "frame and pedestrian ids must be integers"),
        ("10\t1e20\t0.5\t1.0", "frame and pedestrian ids must be integers"),
        ("10\t1.0\t1e40\t1.0", "coordinate beyond 1,000,000 m"),
        ("0\t1.0\t0.5\t1.0", "pedestrian 1 repeats frame 0 of line 1"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, line, problem):
    good = track_rows(1, range(0, 200, 10))
    path = write(tmp_path, "\n".join(good[:3] + [line] + good[3:]) + "\n")
    with pytest.raises(DataError, match=rf"scene\.txt: line 4: {problem}"):
        list(eth_ucy.iter_scenarios(path))
    report = LoadReport()
    scenarios = list(eth_ucy.iter_scenarios(path, skip_errors=True, report=report))
    assert len(scenarios) == 1 and report.loaded == 1
    assert [(s.record, problem in s.reason) for s in report.skipped] == [("line 4", True)]


def test_skip_mode_skips_an_empty_file_and_reads_the_rest(tmp_path):
    write(tmp_path, "\n\n", "a_empty.txt")
    write(tmp_path, "\n".join(track_rows(4, range(0, 210, 10))), "b_good.txt")
    with pytest.raises(DataError, match="a_empty.txt: no data rows"):
        list(eth_ucy.iter_scenarios(tmp_path))
    report = LoadReport()
    scenarios = list(eth_ucy.iter_scenarios(tmp_path, skip_errors=True, report=report))
    assert [s.scenario_id for s in scenarios] == ["b_good/0", "b_good/10"]
    assert [s.record for s in report.skipped] == ["file"]


def test_split_files_and_dispatch():
    assert [p.name for p in eth_ucy.eth_ucy_split(root(), "eth", "test")] == ["biwi_eth.txt"]
    assert [p.name for p in eth_ucy.eth_ucy_split(root(), "univ", "test")] == [
        "students001.txt",
        "students003.txt",
    ]
    train = eth_ucy.eth_ucy_split(root(), "eth", "train")
    assert len(train) == 7 and not any("biwi_eth" in p.name for p in train)
    with pytest.raises(ConfigError, match="scene: got 'eht'; allowed: eth, hotel"):
        eth_ucy.eth_ucy_split(root(), "eht", "test")
    with pytest.raises(ConfigError, match="split"):
        eth_ucy.eth_ucy_split(root(), "eth", "testing")
    assert detect_source(root()) == detect_source(root() / "eth" / "test" / "biwi_eth.txt") == "eth_ucy"
    scenarios = iter_scenarios(root() / "eth" / "test")
    assert next(scenarios).scenario_id.startswith("biwi_eth/")


def test_detect(tmp_path):
    assert eth_ucy.detect(root()) and eth_ucy.detect(root() / "hotel" / "test" / "biwi_hotel.txt")
    assert not eth_ucy.detect(write(tmp_path, "frame ped x y\n1 2 3 4\n", "header.txt"))
    assert not eth_ucy.detect(write(tmp_path, "1\t2\t3\t4\n", "rows.csv"))
    assert not eth_ucy.detect(tmp_path / "missing")


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "the file is empty"), ("1 1 1.0\n", "4 numbers 'frame ped_id x y'"), ("a b c d\n", "4 numbers")],
)
def test_undetected_txt_file_says_why(tmp_path, text, reason):
    path = write(tmp_path, text, "peds.txt")
    with pytest.raises(DataError, match="not a recognised dataset") as info:
        detect_source(path)
    assert str(path) in str(info.value) and reason in str(info.value)


@pytest.mark.parametrize(
    "options", [{"min_peds": 0}, {"num_future_steps": 0}, {"dt_s": -0.4}, {"min_ped": 2}, {"min_peds": True}]
)
def test_bad_options(options):
    with pytest.raises(ConfigError, match=next(iter(options))):
        list(eth_ucy.iter_scenarios(root() / "eth" / "test" / "biwi_eth.txt", **options))


def test_corrupted_bytes_raise_only_data_error(tmp_path):
    lines = (root() / "zara1" / "test" / "crowds_zara01.txt").read_bytes().splitlines(keepends=True)
    data = b"".join(lines[:300])
    path = tmp_path / "corrupt.txt"
    rng = np.random.default_rng(0)
    rejected = 0
    for _ in range(40):
        corrupted = bytearray(data)
        where = rng.integers(0, len(data), 6)
        corrupted[where[0] : where[0] + 3] = rng.integers(0, 256, 3, dtype=np.uint8).tobytes()
        for w in where[1:]:
            corrupted[w] = int(rng.choice(list(b"\t\n x.-e9\x00")))
        path.write_bytes(bytes(corrupted))
        try:
            list(eth_ucy.iter_scenarios(path))
        except DataError as err:
            assert "corrupt.txt" in str(err)
            rejected += 1
        report = LoadReport()
        list(eth_ucy.iter_scenarios(path, skip_errors=True, report=report))  # never raises
    assert rejected > 0
