"""What ``evaluate`` returns: headline metrics, breakdowns, counts; as JSON and as a readable table.

JSON layout (``schema_version`` 1; documented in docs/evaluation.md)::

    {"schema_version": 1, "source": "womd", "counts": {...}, "settings": {...},
     "metrics": {flat overall values of every family},
     "av2": {"overall": {...}, "by_type": {type: {...}}},
     "womd": {"overall": {...}, "by_horizon": {"3s": {...}, ...}, "by_type": {...},
              "by_type_horizon": {type: {"3s": {...}, ...}}},
     "eth_ucy": {"overall": {...}, "by_type": {...}},
     "notes": [...],
     "per_scenario": [{"scenario_id", "num_targets", "minADE", "minFDE"}, ...]}

``per_scenario`` holds each scene's mean over its targets of the AV2-style minADE / minFDE over all
K modes (best mode = smallest endpoint error): the viewer sorts scenes by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

SCHEMA_VERSION = 1
FAMILY_ORDER = ("av2", "womd", "eth_ucy")
FAMILY_TITLES = {
    "av2": "Argoverse 2 definitions (whole predicted horizon)",
    "womd": "Waymo Open Motion Dataset definitions (2 Hz samples)",
    "eth_ucy": "ETH/UCY best-of-N",
}


@dataclass(frozen=True)
class EvaluationResult:
    source: str
    counts: dict[str, int]
    settings: dict
    families: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    per_scenario: list[dict] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, float]:
        """Overall value of every computed key (``minADE_6``, ``minADE``, ``ADE_20``, ...)."""
        flat: dict[str, float] = {}
        for name in FAMILY_ORDER:
            flat.update(self.families.get(name, {}).get("overall", {}))
        return flat

    def to_json(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "source": self.source,
            "counts": dict(self.counts),
            "settings": dict(self.settings),
            "metrics": self.metrics,
            **{name: self.families[name] for name in FAMILY_ORDER if name in self.families},
            "notes": list(self.notes),
            "per_scenario": [_finite(row) for row in self.per_scenario],
        }

    def table(self, title: str | None = None) -> str:
        c = self.counts
        lines = [title] if title else []
        lines.append(
            f"source {self.source}: {c['scenarios']} scenario(s), {c['targets']} target(s), "
            f"{c['scored']} scored, "
            f"{c['missing_predictions']} without prediction; horizon {self.settings.get('horizon_s')} s, "
            f"K = {self.settings.get('num_modes')}"
        )
        for name in FAMILY_ORDER:
            family = self.families.get(name)
            if not family:
                continue
            lines += ["", FAMILY_TITLES[name]]
            columns = {"overall": family["overall"]}
            if name == "womd":
                columns.update(family["by_horizon"])
            columns.update(family["by_type"])
            lines += _grid(columns)
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _finite(row: dict) -> dict:
    """JSON has no NaN: a scene with nothing scored gets nulls."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def _format(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"


def _grid(columns: dict[str, dict[str, float]]) -> list[str]:
    keys: list[str] = []
    for values in columns.values():
        keys += [k for k in values if k not in keys]
    width = max([len(k) for k in keys] + [6])
    col_width = max([len(c) for c in columns] + [8])
    header = " " * width + "".join(f"  {c:>{col_width}}" for c in columns)
    rows = [
        f"{k:<{width}}" + "".join(f"  {_format(v.get(k)):>{col_width}}" for v in columns.values())
        for k in keys
    ]
    return [header, *rows]


def comparison_table(results: dict[str, EvaluationResult]) -> str:
    """Headline metrics of several runs side by side (one column per run), e.g. a model and a baseline."""
    columns = {name: result.metrics for name, result in results.items()}
    return "\n".join(_grid(columns))
