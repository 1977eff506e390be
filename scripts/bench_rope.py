"""Rotary-embedding throughput: rotating q and k ([8, 8, 4096, 64] fp32 each) in GB/s against ``copy_``.

    python scripts/bench_rope.py [--quick] [--json PATH] [--device cpu|cuda] [--threads N]

Bytes moved per call = read q and k + write both results (4 x 64 MiB), the same count for every row, so
``gb_per_s`` of the ``copy`` row (``copy_`` into preallocated tensors) is the memory-bandwidth bound.
cos/sin are precomputed once, as ``RotaryEmbedding.cos_sin`` with a cached table would give them, except
in the ``*_from_positions`` row. Rows are timed in interleaved rounds (every method once per round) so
that load from other processes hits all rows alike; medians and ratios to ``copy`` are reported.
The ``rotary-embedding-torch`` row needs that package (``pip install --no-deps rotary-embedding-torch``)
and is skipped with a note when it is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from drive.rope import (  # noqa: E402
    RotaryEmbedding,
    apply_rotation,
    apply_rotation_compiled,
    axial_frequencies,
    geometric_frequencies,
    rotate,
    text_positions,
)

BATCH, HEADS, SEQ, HEAD_DIM = 8, 8, 4096, 64


def _methods(device: torch.device) -> tuple[dict[str, tuple[str, Callable[[], object]]], list[str]]:
    """name -> (note, zero-argument call); plus notes about skipped rows."""
    g = torch.Generator(device="cpu").manual_seed(0)
    q = torch.randn(BATCH, HEADS, SEQ, HEAD_DIM, generator=g).to(device)  # (B, H, T, Dh)
    k = torch.randn(BATCH, HEADS, SEQ, HEAD_DIM, generator=g).to(device)  # (B, H, T, Dh)
    q_out, k_out = torch.empty_like(q), torch.empty_like(k)
    frequencies = axial_frequencies([(0, geometric_frequencies(HEAD_DIM // 2))], num_axes=1)  # (1, 32, 1)
    embedding = RotaryEmbedding(frequencies, max_cached_position=SEQ).to(device)
    positions = text_positions(SEQ, device=device)  # (T, 1)
    cos, sin = (t[:, 0] for t in embedding.cos_sin(positions))  # (T, 32) each: shared over B and H
    angle = embedding(positions)[:, 0]  # (T, 32)

    def both(fn: Callable[[torch.Tensor, torch.Tensor | None], object]) -> Callable[[], object]:
        return lambda: (fn(q, q_out), fn(k, k_out))

    def from_positions() -> None:
        c, s = (t[:, 0] for t in embedding.cos_sin(positions))
        apply_rotation(q, c, s, out=q_out)
        apply_rotation(k, c, s, out=k_out)

    def complex_multiply(x: torch.Tensor, _: object) -> torch.Tensor:
        z = torch.view_as_complex(x.unflatten(-1, (HEAD_DIM // 2, 2)))
        return torch.view_as_real(z * torch.polar(torch.ones_like(angle), angle)).flatten(-2)

    methods: dict[str, tuple[str, Callable[[], object]]] = {
        "copy": ("x_out.copy_(x): the bandwidth bound", both(lambda x, o: o.copy_(x))),
        "drive_half_out": (
            "apply_rotation(x, cos, sin, out=x_out), half layout",
            both(lambda x, o: apply_rotation(x, cos, sin, out=o)),
        ),
        "drive_half_inplace": (
            "apply_rotation(x, cos, sin, out=x), half layout",
            both(lambda x, o: apply_rotation(x, cos, sin, out=x)),
        ),
        "drive_interleaved_out": (
            "apply_rotation(..., 'interleaved', out=x_out)",
            both(lambda x, o: apply_rotation(x, cos, sin, "interleaved", out=o)),
        ),
        "drive_interleaved_inplace": (
            "apply_rotation(..., 'interleaved', out=x)",
            both(lambda x, o: apply_rotation(x, cos, sin, "interleaved", out=x)),
        ),
        "drive_half_alloc": (
            "rotate(x, angle): new output each call, angles -> cos/sin inside",
            both(lambda x, o: rotate(x, angle)),
        ),
        "drive_half_from_positions": ("cached cos/sin gathered from int positions + out=", from_positions),
        "complex_multiply_alloc": (
            "plain torch complex multiply, new output each call",
            both(complex_multiply),
        ),
    }
    skipped = []
    compile_start = time.perf_counter()
    with torch.no_grad():
        apply_rotation_compiled(q, cos, sin, out=q_out)  # compiles once for this shape
    compile_s = time.perf_counter() - compile_start
    methods["drive_half_compiled_out"] = (
        f"apply_rotation_compiled(x, cos, sin, out=x_out), half layout (compiled once: {compile_s:.1f} s)",
        both(lambda x, o: apply_rotation_compiled(x, cos, sin, out=o)),
    )
    try:
        from rotary_embedding_torch import RotaryEmbedding as LucidrainsRotary
    except ImportError:
        skipped.append("rotary-embedding-torch not installed: pip install --no-deps rotary-embedding-torch")
    else:
        lucid = LucidrainsRotary(dim=HEAD_DIM).to(device)
        methods["rotary_embedding_torch"] = (
            "rotary_embedding_torch.RotaryEmbedding(64).rotate_queries_or_keys(x)",
            both(lambda x, o: lucid.rotate_queries_or_keys(x)),
        )
    return methods, skipped


def run(rounds: int, device: torch.device) -> tuple[list[dict], list[str]]:
    methods, skipped = _methods(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times: dict[str, list[float]] = {name: [] for name in methods}
    with torch.no_grad():  # the inference path: no autograd graph around the rotations
        for _, call in methods.values():  # warm-up: caches, allocator, lazy imports
            call()
        sync()
        for _ in range(rounds):
            for name, (_, call) in methods.items():
                start = time.perf_counter()
                call()
                sync()
                times[name].append(time.perf_counter() - start)
    nbytes = 4 * BATCH * HEADS * SEQ * HEAD_DIM * 4  # read q, k; write two results; fp32
    copy_median = statistics.median(times["copy"])
    copy_best = min(times["copy"])
    rows = []
    for name, (note, _) in methods.items():
        median = statistics.median(times[name])
        rows.append(
            {
                "method": name,
                "gb_per_s": nbytes / median / 1e9,
                "ratio_to_copy": copy_median / median,
                "best_ratio_to_copy": copy_best / min(times[name]),
                "median_s": median,
                "best_s": min(times[name]),
                "note": note,
            }
        )
    return rows, skipped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (well under two minutes)")
    parser.add_argument("--json", type=Path, help="write the rows and run facts here")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 3 quick, 15 full)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda given but CUDA is not available")
    rounds = args.rounds or (3 if args.quick else 15)
    rows, skipped = run(rounds, device)
    facts = {
        "shape": [BATCH, HEADS, SEQ, HEAD_DIM],
        "dtype": "float32",
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "rounds": rounds,
        "torch": torch.__version__,
        "skipped": skipped,
        "load_average_1min": os.getloadavg()[0],
    }
    print(
        f"rotate q and k {facts['shape']} fp32 on {device} ({facts['threads']} threads, {rounds} rounds, "
        f"1-min load average {facts['load_average_1min']:.1f})"
    )
    print(f"{'method':28s} {'GB/s':>8s} {'x copy':>7s} {'best x':>7s} {'median ms':>10s}")
    for row in rows:
        print(
            f"{row['method']:28s} {row['gb_per_s']:8.2f} {row['ratio_to_copy']:7.2f} "
            f"{row['best_ratio_to_copy']:7.2f} {1e3 * row['median_s']:10.2f}"
        )
    for note in skipped:
        print(f"skipped: {note}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"facts": facts, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
