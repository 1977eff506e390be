"""One SUMO simulation run: a procedurally generated network, random demand, FCD, scenes.

Every random choice comes from ``numpy.random.default_rng((seed, run_index))`` and from the ``--seed``
given to each SUMO tool, and SUMO runs on one thread, so a (seed, run_index) pair always gives the
same scenes. The temporary SUMO files (network, trips, FCD) are deleted after the run.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drive.data.schema import Scenario
from drive.datasets.sumo_network import read_network
from drive.datasets.sumo_scenes import PEDESTRIAN_SIZE_M, VEHICLE_TYPES, SceneConfig, cut_scenes, read_fcd
from drive.errors import DataError

WARMUP_S = 50.0
# Share of each vehicle class in the demand; ids match sumo_scenes.VEHICLE_TYPES.
VEHICLE_MIX = {"car": 0.80, "truck": 0.06, "bus": 0.04, "bike": 0.10}
VEHICLE_CLASS = {"car": "passenger", "truck": "truck", "bus": "bus", "bike": "bicycle"}


@dataclass(frozen=True)
class RunPlan:
    """What one run simulates; drawn by :func:`plan_run` from (seed, run_index)."""

    seed: int
    run_index: int
    split: str
    num_scenes: int
    network: str
    netgenerate_args: tuple[str, ...]
    vehicle_density: float
    pedestrian_density: float
    duration_s: float


def sumo_home() -> Path:
    try:
        import sumo
    except ImportError as err:  # pragma: no cover - eclipse-sumo is a core dependency
        raise ImportError(
            "eclipse-sumo is needed to simulate; install it with `pip install eclipse-sumo`"
        ) from err
    return Path(sumo.SUMO_HOME)


def _network_args(kind: str, rng: np.random.Generator) -> list[str]:
    lanes = int(rng.choice([1, 2, 2, 3]))
    speed = float(rng.choice([11.11, 13.89]))
    common = [f"--default.lanenumber={lanes}", f"--default.speed={speed}"]
    common += ["--tls.guess", f"--tls.guess.threshold={int(rng.integers(60, 260))}"]
    common += ["--sidewalks.guess", "--crossings.guess", "--no-turnarounds=true"]
    if rng.random() < 0.5:
        common += ["--turn-lanes=1", f"--turn-lanes.length={int(rng.integers(20, 40))}"]
    if kind == "grid":
        return common + [
            "--grid",
            f"--grid.x-number={int(rng.integers(3, 6))}",
            f"--grid.y-number={int(rng.integers(3, 6))}",
            f"--grid.x-length={int(rng.integers(90, 170))}",
            f"--grid.y-length={int(rng.integers(90, 170))}",
            "--grid.attach-length=60",
        ]
    if kind == "spider":
        args = [
            "--spider",
            f"--spider.arm-number={int(rng.integers(4, 7))}",
            f"--spider.circle-number={int(rng.integers(2, 4))}",
            f"--spider.space-radius={int(rng.integers(70, 120))}",
        ]
        return common + args + (["--spider.omit-center"] if rng.random() < 0.5 else [])
    return common + [
        "--rand",
        f"--rand.iterations={int(rng.integers(25, 50))}",
        "--rand.min-distance=70",
        "--rand.max-distance=170",
        "--rand.min-angle=45",
    ]


def plan_run(seed: int, run_index: int, split: str, num_scenes: int, config: SceneConfig) -> RunPlan:
    rng = np.random.default_rng((seed, run_index))
    kind = str(rng.choice(["grid", "grid", "spider", "rand"]))
    args = _network_args(kind, rng)
    windows = math.ceil(num_scenes / config.scenes_per_window)
    # Windows can yield fewer scenes than asked when traffic is thin, hence the margin.
    duration_s = WARMUP_S + (1.25 * windows + 2) * config.window_stride_s + config.num_steps * config.dt_s
    return RunPlan(
        seed=seed,
        run_index=run_index,
        split=split,
        num_scenes=num_scenes,
        network=kind,
        netgenerate_args=tuple(args),
        vehicle_density=float(rng.uniform(100, 200)),
        pedestrian_density=float(rng.uniform(40, 120)),
        duration_s=round(duration_s, 1),
    )


def _tool_seed(plan: RunPlan, tool: int) -> int:
    return int(np.random.default_rng((plan.seed, plan.run_index, tool)).integers(0, 2**31 - 1))


def _vtypes_xml() -> str:
    """Vehicle and pedestrian types: ``DEFAULT_VEHTYPE`` as a distribution makes every trip draw its
    class from :data:`VEHICLE_MIX` (with SUMO's seeded generator)."""
    lines = ["<additional>", '  <vTypeDistribution id="DEFAULT_VEHTYPE">']
    for name, share in VEHICLE_MIX.items():
        _, length, width, height = VEHICLE_TYPES[name]
        lines.append(
            f'    <vType id="{name}" vClass="{VEHICLE_CLASS[name]}" probability="{share}" length="{length}" '
            f'width="{width}" height="{height}"/>'
        )
    lines.append("  </vTypeDistribution>")
    length, width, height = PEDESTRIAN_SIZE_M
    lines.append(
        f'  <vType id="DEFAULT_PEDTYPE" vClass="pedestrian" length="{length}" width="{width}" '
        f'height="{height}"/>'
    )
    return "\n".join(lines + ["</additional>", ""])


def _run(command: list[str], workdir: Path) -> None:
    env = {**os.environ, "SUMO_HOME": str(sumo_home())}
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise DataError(f"SUMO step failed ({Path(command[0]).name} ...): {' | '.join(tail)}")


def _random_trips(args: list[str]) -> None:
    """SUMO's ``randomTrips.py`` run in this process: a new interpreter per call would cost more than
    the trips themselves. It seeds its own generator from ``--seed``."""
    tools = str(sumo_home() / "tools")
    if tools not in sys.path:
        sys.path.append(tools)
    import randomTrips

    try:
        with _silenced_output():
            randomTrips.main(randomTrips.get_options(args))
    except (SystemExit, Exception) as err:
        raise DataError(f"randomTrips.py failed ({err!r}) with arguments {args}") from err


@contextlib.contextmanager
def _silenced_output():
    """Route stdout and stderr to /dev/null at the descriptor level, so the duarouter subprocess that
    randomTrips starts stays quiet too (its warnings are expected: unroutable trips are dropped)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


# Fixed simulation options: 10 Hz, one thread (reproducible), lane changes spread over 2 s instead of
# SUMO's default instant jump, jams resolved by teleporting after 90 s, unroutable trips dropped.
SUMO_OPTIONS = (
    "--step-length", "0.1", "--threads", "1", "--lanechange.duration", "2", "--time-to-teleport", "90",
    "--max-depart-delay", "20", "--ignore-route-errors", "--no-step-log", "--no-warnings",
    "--xml-validation", "never", "--fcd-output.attributes", "x,y,angle,speed,type",
)  # fmt: skip


def run_sumo(plan: RunPlan, workdir: Path) -> None:
    """Generate the network and demand and simulate, writing ``net.net.xml``, ``fcd.parquet`` and
    ``persons.parquet`` into ``workdir``."""
    binary = sumo_home() / "bin"
    netgenerate = [str(binary / "netgenerate"), *plan.netgenerate_args, f"--seed={_tool_seed(plan, 1)}"]
    _run(netgenerate + ["--no-warnings", "-o", "net.net.xml"], workdir)
    # randomTrips validates trips with duarouter (dropping unroutable ones); its route file must stay in
    # workdir, as parallel runs share the current directory.
    common = ["-n", str(workdir / "net.net.xml"), "-b", "0", "-e", str(plan.duration_s)]
    common += ["-r", str(workdir / "validated.rou.xml")]
    vehicles = [
        "-o",
        str(workdir / "vehicles.trips.xml"),
        "--seed",
        str(_tool_seed(plan, 2)),
        "--prefix",
        "v",
    ]
    vehicles += ["--insertion-density", f"{plan.vehicle_density:.3f}", "--fringe-factor", "5"]
    vehicles += ["--min-distance", "150", "--trip-attributes", 'departLane="best" departSpeed="max"']
    _random_trips(common + vehicles)
    persons = ["-o", str(workdir / "persons.trips.xml"), "--seed", str(_tool_seed(plan, 3)), "--prefix", "p"]
    persons += ["--pedestrians", "--insertion-density", f"{plan.pedestrian_density:.3f}"]
    _random_trips(common + persons + ["--max-distance", "600"])
    (workdir / "types.add.xml").write_text(_vtypes_xml())
    sumo = [str(binary / "sumo"), *SUMO_OPTIONS, "--seed", str(_tool_seed(plan, 4))]
    sumo += ["-n", "net.net.xml", "-a", "types.add.xml", "-r", "vehicles.trips.xml,persons.trips.xml"]
    sumo += ["--begin", "0", "--end", str(plan.duration_s), "--device.fcd.begin", str(WARMUP_S)]
    sumo += ["--fcd-output", "fcd.parquet", "--person-fcd-output", "persons.parquet"]
    _run(sumo, workdir)


def simulate_run(plan: RunPlan, config: SceneConfig) -> list[Scenario]:
    """Scenes of one run (at most ``plan.num_scenes``)."""
    with tempfile.TemporaryDirectory(prefix="drive-sumo-") as tmp:
        workdir = Path(tmp)
        run_sumo(plan, workdir)
        network = read_network(workdir / "net.net.xml")
        tracks = read_fcd(
            workdir / "fcd.parquet", workdir / "persons.parquet", WARMUP_S, plan.duration_s, config.dt_s
        )
    rng = np.random.default_rng((plan.seed, plan.run_index, 99))
    extras = {"seed": plan.seed, "run": plan.run_index, "network": plan.network}
    prefix = f"sumo-s{plan.seed}-r{plan.run_index:04d}"
    return cut_scenes(tracks, network, config, rng, plan.num_scenes, prefix, extras)
