"""Benchmark one agent-to-agent interaction layer per position encoding: peak memory and time vs N.

One scene, N agents, complete graph (no radius mask), width 128, 8 heads, fp32. ``fwd`` is a forward
pass under ``torch.no_grad()`` (inference); ``fwdbwd`` is forward plus backward of ``out.sum()`` with
respect to the layer's parameters and the input tokens.

Memory, CPU: every configuration runs in its own child process, forked from a parent that has imported
torch but never run a tensor operation (so no thread pool is inherited). The child builds the layer and
inputs, runs a small warm-up, resets the kernel's peak-RSS counter (``/proc/self/clear_refs`` = 5,
Linux ≥ 4.0), records its RSS, runs the configuration once and reads ``VmHWM``: peak bytes = VmHWM
minus the RSS just before the run, i.e. everything the layer touched on top of its parameters and
inputs, whichever allocator served it (``peak_mem_bytes``). Pages are coarse and glibc keeps freed
blocks resident as heap holes after it raises its mmap threshold, so this peak depends on the order of
allocations. Hence a second figure, ``peak_tensor_bytes``: after the timing runs, one more run under
``torch.profiler`` with ``profile_memory=True``, whose allocation and free events give the peak of the
bytes held by tensors above the level before the run, exact at any N (the CPU counterpart of
``torch.cuda.max_memory_allocated``). Memory, CUDA: ``torch.cuda.max_memory_allocated`` minus the
allocation before the run, for both; CUDA rows run one after another in the parent process. Time: for rows
faster than 20 ms, the layers of all encodings at one N and mode (``rpe`` excepted: its N² tensors would
evict the others' weights from cache) are timed in turns in one process: a block of 10 timed calls of each
per round after one untimed call, the order reversed every other round, until each has 0.5 s of samples.
A burst of load on a shared machine then slows every encoding's samples alike and the ratios hold;
``timing`` says ``interleaved``, and ``isolated_median_s`` keeps the row's own median. Slower rows keep
the median of their own repeated runs after the memory run (``timing`` = ``isolated``).

Usage::

    python scripts/bench_interaction.py --json out.json --plot out.png
    python scripts/bench_interaction.py --quick
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drive.models.config import PredictorConfig  # noqa: E402
from drive.models.encodings import build_attention  # noqa: E402

ENCODINGS = ("drope_rope", "se2", "rpe", "absolute")
# Variants that may be named with --encodings besides the defaults: name -> PredictorConfig overrides.
VARIANTS = {"drope_rope_shared": {"encoding": "drope_rope", "shared_wavelengths": True}}
SIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
QUICK_SIZES = (32, 128, 512)
MODES = ("fwd", "fwdbwd")
WIDTH, HEADS = 128, 8


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _max_rss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _inputs(num_agents: int, device: torch.device, grad: bool):
    g = torch.Generator().manual_seed(num_agents)
    side_m = 10.0 * num_agents**0.5  # constant density: about one agent per 100 m²
    tokens = torch.randn(1, num_agents, WIDTH, generator=g).to(device).requires_grad_(grad)
    pos = (torch.rand(1, num_agents, 2, generator=g) * side_m - side_m / 2).to(device)
    heading = ((torch.rand(1, num_agents, generator=g) * 2 - 1) * torch.pi).to(device)
    return tokens, pos, heading


def _step(layer, tokens, pos, heading, mode: str) -> None:
    if mode == "fwd":
        with torch.no_grad():
            layer(tokens, tokens, pos, heading, pos, heading)
        return
    layer(tokens, tokens, pos, heading, pos, heading).sum().backward()
    layer.zero_grad(set_to_none=True)
    tokens.grad = None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_tensor_bytes(run) -> int:
    """Peak of the bytes held by tensors while ``run()`` executes, above the level before it, from the
    profiler's allocation (+) and free (-) events in time order."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    held = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        held += event.nbytes()
        peak = max(peak, held)
    return peak


def measure(
    encoding: str,
    num_agents: int,
    mode: str,
    repeats: int,
    max_seconds: float,
    device: str,
    threads: int,
) -> dict:
    """Run one configuration in this process; returns a result row."""
    dev = torch.device(device)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    overrides = VARIANTS.get(encoding, {"encoding": encoding})
    config = PredictorConfig(num_future_steps=1, hidden_dim=WIDTH, num_heads=HEADS, dropout=0.0, **overrides)
    layer = build_attention(config).to(dev)
    warm = _inputs(8, dev, mode == "fwdbwd")
    _step(layer, *warm, mode)
    tokens, pos, heading = _inputs(num_agents, dev, mode == "fwdbwd")
    _sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
    else:
        exact = _reset_peak_rss()
        # Without a resettable counter (not Linux) fall back to the lifetime peak: a lower bound when an
        # earlier peak (imports, warm-up) was higher.
        before = _status_kib("VmRSS") * 1024 if exact else _max_rss_bytes()
    start = time.perf_counter()
    _step(layer, tokens, pos, heading, mode)
    _sync(dev)
    first_s = time.perf_counter() - start
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated(dev) - before
    else:
        peak = (_status_kib("VmHWM") * 1024 if exact else _max_rss_bytes()) - before
    times, cpu_times = [], []
    budget_end = time.perf_counter() + max_seconds
    # At least ``repeats`` runs and 0.5 s of samples (up to 5,000 runs): a 0.1 ms row then spans 0.5 s, so
    # a burst of load on a shared machine shifts few of its samples, not its median. Rows slower than the
    # budget keep the single memory run as their time.
    runs = 0 if first_s > max_seconds else 5000
    for index in range(runs):
        spent = sum(times)
        if index >= repeats and (spent > 0.5 or time.perf_counter() > budget_end):
            break
        start, cpu_start = time.perf_counter(), time.process_time()
        _step(layer, tokens, pos, heading, mode)
        _sync(dev)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    tensor_peak = (
        peak if dev.type == "cuda" else peak_tensor_bytes(lambda: _step(layer, tokens, pos, heading, mode))
    )
    return {
        "encoding": encoding,
        "num_agents": num_agents,
        "mode": mode,
        "peak_mem_bytes": int(max(peak, 0)),
        "peak_tensor_bytes": int(tensor_peak),
        "median_s": statistics.median(times or [first_s]),
        "min_s": min(times or [first_s]),
        "runs": len(times) or 1,
        "device": device,
        "threads": threads,
        # CPU seconds of the process (all threads): less sensitive than wall time to other load.
        "median_cpu_s": statistics.median(cpu_times) if cpu_times else None,
        "timing": "isolated",
    }


def _child(conn, work, *args) -> None:
    try:
        conn.send(("ok", work(*args)))
    except Exception as err:  # reported by the parent as a skipped configuration
        conn.send(("error", f"{type(err).__name__}: {err}"))
    conn.close()


def _in_child(work, *args) -> tuple[str, dict | str]:
    """``work(*args)`` in a forked child: no thread pool, heap or peak-RSS counter shared with the parent
    or with other rows."""
    ctx = mp.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child_conn, work, *args))
    proc.start()
    child_conn.close()
    try:
        status, payload = parent_conn.recv()
    except EOFError:
        status, payload = "error", f"child died (exit code {proc.exitcode}; likely out of memory)"
    proc.join()
    return status, payload


def _in_process(work, *args) -> tuple[str, dict | str]:
    """``work(*args)`` here, for CUDA: the allocator's own peak counter isolates rows, and a forked child
    cannot use a CUDA context its parent may hold. Freed blocks go back to the device afterwards."""
    try:
        return "ok", work(*args)
    except Exception as err:  # reported as a skipped configuration (an out-of-memory row, say)
        return "error", f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    finally:
        torch.cuda.empty_cache()


def run_isolated(*args) -> tuple[str, dict | str]:
    """:func:`measure` in its own forked child (CPU rows)."""
    return _in_child(measure, *args)


def run_in_process(*args) -> tuple[str, dict | str]:
    """:func:`measure` in this process (CUDA rows)."""
    return _in_process(measure, *args)


INTERLEAVE_BELOW_S = 0.02  # rows faster than this are timed in turns with the other encodings
INTERLEAVE_BLOCK = 10  # timed calls per encoding and turn


def interleaved_times(
    encodings: list[str], num_agents: int, mode: str, max_seconds: float, device: str, threads: int
) -> dict[str, dict]:
    """Median, best and CPU time per encoding, timed in turns in this process (see the module docstring)."""
    dev = torch.device(device)
    torch.set_num_threads(threads)
    cases = {}
    for encoding in encodings:
        torch.manual_seed(0)
        overrides = VARIANTS.get(encoding, {"encoding": encoding})
        config = PredictorConfig(
            num_future_steps=1, hidden_dim=WIDTH, num_heads=HEADS, dropout=0.0, **overrides
        )
        layer = build_attention(config).to(dev)
        inputs = _inputs(num_agents, dev, mode == "fwdbwd")
        _step(layer, *inputs, mode)  # warm-up
        cases[encoding] = (layer, inputs)
    times = {encoding: [] for encoding in encodings}
    cpu_times = {encoding: [] for encoding in encodings}
    budget_end = time.perf_counter() + max_seconds * len(encodings)
    for index in range(500):
        for encoding in encodings if index % 2 == 0 else encodings[::-1]:
            layer, inputs = cases[encoding]
            # A block of consecutive calls whose first is discarded: each sample runs with the layer's
            # weights in cache, as in the isolated runs, while a round of blocks spans milliseconds.
            for call in range(INTERLEAVE_BLOCK + 1):
                start, cpu_start = time.perf_counter(), time.process_time()
                _step(layer, *inputs, mode)
                _sync(dev)
                if call:
                    times[encoding].append(time.perf_counter() - start)
                    cpu_times[encoding].append(time.process_time() - cpu_start)
        enough = min(sum(samples) for samples in times.values()) > 0.5
        if enough or time.perf_counter() > budget_end:
            break
    return {
        encoding: {
            "median_s": statistics.median(times[encoding]),
            "min_s": min(times[encoding]),
            "runs": len(times[encoding]),
            "median_cpu_s": statistics.median(cpu_times[encoding]),
        }
        for encoding in encodings
    }


def run_interleaved(*args) -> tuple[str, dict | str]:
    """:func:`interleaved_times` in a forked child on CPU, in this process on CUDA."""
    run = _in_child if torch.device(args[4]).type == "cpu" else _in_process
    return run(interleaved_times, *args)


def available_bytes() -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 8 << 30


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encodings", default=",".join(ENCODINGS))
    parser.add_argument("--sizes", default=None, help="comma-separated agent counts")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time budget for repeats per row")
    parser.add_argument(
        "--memory-budget-gb",
        type=float,
        default=None,
        help="skip a row whose predicted peak exceeds this (default: half of MemAvailable, <= 12)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads per run (1 keeps timings stable on a shared machine)",
    )
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, 3 repeats (< 2 minutes)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick and args.sizes is None else SIZES
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    repeats = 3 if args.quick else args.repeats
    max_seconds = 5.0 if args.quick else args.max_seconds
    budget = (
        args.memory_budget_gb * 2**30 if args.memory_budget_gb else min(available_bytes() / 2, 12 * 2**30)
    )
    encodings = args.encodings.split(",")
    for name in encodings:
        if name not in ENCODINGS and name not in VARIANTS:
            parser.error(f"unknown encoding {name!r}; choose from {', '.join((*ENCODINGS, *VARIANTS))}")
    rows, skipped = [], []
    for mode in args.modes.split(","):
        last: dict[str, dict] = {}
        for n in sizes:
            # Encodings alternate at each N so that drifting background load hits them alike.
            for encoding in encodings:
                prev = last.get(encoding)
                predicted = prev["peak_mem_bytes"] * (n / prev["num_agents"]) ** 2 if prev else 0.0
                # N² growth is exact for rpe and an upper bound for the linear-memory encodings.
                if predicted > (budget if encoding == "rpe" else 4 * budget):
                    skipped.append((encoding, n, mode, f"predicted {predicted / 2**30:.1f} GiB > budget"))
                    continue
                run = run_isolated if torch.device(args.device).type == "cpu" else run_in_process
                status, payload = run(encoding, n, mode, repeats, max_seconds, args.device, args.threads)
                if status != "ok":
                    skipped.append((encoding, n, mode, payload))
                    continue
                rows.append(payload)
                last[encoding] = payload
                print(
                    f"  {encoding:>10} N={n:<5} {mode:<6} {payload['peak_mem_bytes'] / 2**20:9.1f} MiB "
                    f"{payload['median_s'] * 1e3:10.2f} ms",
                    file=sys.stderr,
                    flush=True,
                )
            fast = [r for r in rows if r["num_agents"] == n and r["mode"] == mode]
            fast = [r for r in fast if r["median_s"] < INTERLEAVE_BELOW_S and r["encoding"] != "rpe"]
            if len(fast) > 1:
                names = [r["encoding"] for r in fast]
                status, payload = run_interleaved(names, n, mode, max_seconds, args.device, args.threads)
                for r in fast:
                    r["isolated_median_s"], r["timing"] = r["median_s"], "isolated"
                    if status == "ok":
                        r.update(payload[r["encoding"]], timing="interleaved")
                if status != "ok":
                    print(f"  interleaved timing at N={n} {mode} failed: {payload}", file=sys.stderr)
    print_table(rows, skipped)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.plot:
        plot(rows, args.plot)
    return 0


def _ratios(rows: list[dict]) -> dict[tuple, dict]:
    base = {(r["num_agents"], r["mode"]): r for r in rows if r["encoding"] == "absolute"}
    out = {}
    for r in rows:
        ref = base.get((r["num_agents"], r["mode"]))
        if ref:
            cpu = r.get("median_cpu_s"), ref.get("median_cpu_s")
            tensor = r.get("peak_tensor_bytes"), ref.get("peak_tensor_bytes")
            out[(r["encoding"], r["num_agents"], r["mode"])] = {
                "mem": r["peak_mem_bytes"] / max(ref["peak_mem_bytes"], 1),
                "tensor": tensor[0] / max(tensor[1], 1) if None not in tensor else None,
                "time": r["median_s"] / ref["median_s"],
                "min": r["min_s"] / ref["min_s"],
                "cpu": cpu[0] / cpu[1] if cpu[0] and cpu[1] else None,
            }
    return out


def print_table(rows: list[dict], skipped: list[tuple]) -> None:
    ratios = _ratios(rows)
    device = rows[0]["device"] if rows else "-"
    threads = rows[0]["threads"] if rows else "-"
    print(f"torch {torch.__version__}, {threads} thread(s) per run, device {device}")
    print(
        "| encoding | N | mode | peak RSS (MiB) | peak tensor memory (MiB) | median time (ms) "
        "| RSS / absolute | tensor memory / absolute | median time / absolute | min time / absolute "
        "| CPU time / absolute |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["mode"], r["encoding"], r["num_agents"])):
        ratio = ratios.get((r["encoding"], r["num_agents"], r["mode"]))
        cells = ["-", "-", "-", "-", "-"]
        if ratio:
            cells = [
                f"{ratio['mem']:.2f}",
                f"{ratio['tensor']:.2f}" if ratio["tensor"] is not None else "-",
                f"{ratio['time']:.2f}",
                f"{ratio['min']:.2f}",
                f"{ratio['cpu']:.2f}" if ratio["cpu"] else "-",
            ]
        tensor = r.get("peak_tensor_bytes")
        print(
            f"| {r['encoding']} | {r['num_agents']} | {r['mode']} | {r['peak_mem_bytes'] / 2**20:.2f} | "
            f"{'-' if tensor is None else f'{tensor / 2**20:.2f}'} | {r['median_s'] * 1e3:.2f} | "
            f"{' | '.join(cells)} |"
        )
    for encoding, n, mode, why in skipped:
        print(f"| {encoding} | {n} | {mode} | skipped: {why} | | | | | | | |")
    by_key = {(r["encoding"], r["num_agents"], r["mode"]): r for r in rows}
    for n in sorted({r["num_agents"] for r in rows}, reverse=True):
        rpe, drope = by_key.get(("rpe", n, "fwdbwd")), by_key.get(("drope_rope", n, "fwdbwd"))
        if rpe and drope:
            mem = rpe["peak_mem_bytes"] / max(drope["peak_mem_bytes"], 1)
            speed = rpe["median_s"] / drope["median_s"]
            print(f"rpe / drope_rope at N={n} fwdbwd: memory {mem:.0f}x, time {speed:.0f}x")
            break


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {
        "drope_rope": "tab:blue",
        "se2": "tab:green",
        "rpe": "tab:red",
        "absolute": "tab:gray",
        "drope_rope_shared": "tab:purple",
    }
    for encoding in (*ENCODINGS, *VARIANTS):
        for mode, style in (("fwdbwd", "-"), ("fwd", "--")):
            sel = sorted(
                (r for r in rows if r["encoding"] == encoding and r["mode"] == mode),
                key=lambda r: r["num_agents"],
            )
            if not sel:
                continue
            n = [r["num_agents"] for r in sel]
            kw = dict(
                color=colors[encoding], linestyle=style, marker="o", markersize=3, label=f"{encoding} {mode}"
            )
            # Tensor memory where measured (exact at any N); RSS (page-granular, allocator-dependent) else.
            memory = [r.get("peak_tensor_bytes", r["peak_mem_bytes"]) for r in sel]
            axes[0].plot(n, [max(m, 1) / 2**20 for m in memory], **kw)
            axes[1].plot(n, [r["median_s"] * 1e3 for r in sel], **kw)
    for ax, label in zip(axes, ("peak tensor memory (MiB)", "median time (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("agents N")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.suptitle("one interaction layer (width 128, 8 heads, complete graph)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
