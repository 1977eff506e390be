"""Figures for the benchmark results (PNG, matplotlib's Agg backend, imported only when drawing)."""

from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_ablation(result: dict, path: Path) -> None:
    """minADE_6 / minFDE_6 per encoding (mean ± std over seeds) on the test scenes and on the same scenes
    under a random rigid motion, with the constant-velocity baseline (and the untrained velocity fan,
    when the run has it) as lines."""
    plt = _pyplot()
    rows = result["rows"]
    names = [r["encoding"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key in zip(axes, ("minADE_6", "minFDE_6")):
        x = range(len(rows))
        for offset, split, label in ((-0.2, "test", "test scenes"), (0.2, "moved", "rigidly moved")):
            means = [r[split][key][0] for r in rows]
            stds = [r[split][key][1] for r in rows]
            ax.bar([i + offset for i in x], means, 0.4, yerr=stds, capsize=3, label=label)
        ax.axhline(result["baseline"]["test"][key], color="k", ls="--", lw=1, label="constant velocity")
        if "fan_baseline" in result:
            fan = result["fan_baseline"]["test"][key]
            ax.axhline(fan, color="0.4", ls=":", lw=1, label="velocity fan (untrained)")
        ax.set_xticks(list(x), names)
        ax.set_ylabel(f"{key} (m)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle(f"encoding ablation, simulated traffic ({len(result['setup']['seeds'])} seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_eth_ucy(result: dict, path: Path) -> None:
    """Best-of-20 ADE/FDE per held-out scene: model vs constant velocity (and the untrained velocity fan,
    when the run has it)."""
    plt = _pyplot()
    rows = result["rows"]
    names = [r["scene"] for r in rows] + ["average"]
    series = [
        ("model", "average", "this model (CPU run)"),
        ("constant_velocity", "constant_velocity_average", "constant velocity"),
    ]
    if all("velocity_fan" in r for r in rows) and "velocity_fan_average" in result:
        series.append(("velocity_fan", "velocity_fan_average", "velocity fan (untrained)"))
    width = 0.8 / len(series)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key in zip(axes, ("ADE_20", "FDE_20")):
        x = range(len(names))
        for index, (row_key, average_key, label) in enumerate(series):
            values = [r[row_key][key] for r in rows] + [result[average_key][key]]
            offset = (index - (len(series) - 1) / 2) * width
            ax.bar([i + offset for i in x], values, width, label=label)
        goal = {p["method"]: p for p in result["published"]}.get("AgentFormer (corrected)")
        if goal:
            ax.axhline(goal[key], color="k", ls="--", lw=1, label="AgentFormer (corrected) average")
        ax.set_xticks(list(x), names)
        ax.set_ylabel(f"{key} (m)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("ETH/UCY leave-one-out, best of 20")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
