"""``examples/agents_rope.py`` runs and shows the invariances it promises (and the counter-examples)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agents_rope.py"


def test_agents_example(capsys):
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    changes = dict(re.findall(r"^(.+?):\s+max \|score change\| = ([\d.e+-]+)", out, flags=re.M))
    small = [v for key, v in changes.items() if "ordinary" not in key and "rotate" not in key]
    assert len(changes) == 5 and len(small) == 3
    assert all(float(v) < 1e-9 for v in small)  # translation, 2πk headings, common heading offset
    assert float(changes["headings + 2πk, ordinary RoPE heading slots"]) > 1e-2
    assert float(changes["rotate the whole scene by 0.8 rad"]) > 1e-2
    attention = float(re.search(r"2πk headings = ([\d.e+-]+)", out).group(1))
    assert attention < 1e-9
