"""The interactive scene viewer: one self-contained HTML file (inline data, script and style; no server,
no network) for one scene or a whole evaluation run.

The page has a time slider and play button, pan (drag) and zoom (wheel), a toggle per agent and per
mode, hover details (agent id, type, speed; mode probability), optional attention lines, and for a
run a scene list sortable by minADE / minFDE so the worst scenes are one click away (the list opens
sorted by minFDE, worst first, when errors are known).
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from drive.errors import ConfigError, DataError
from drive.viz.viewer_assets import VIEWER_CSS, VIEWER_JS

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<div id="side">
  <div id="scene-panel"><h2>Scenes</h2><table id="scenes"></table></div>
  <h2>Modes</h2><div id="modes"></div>
  <div id="attn"><h2>Attention</h2>
    <label><input type="checkbox" id="attn-box" checked> show weights</label></div>
  <h2>Agents <button id="all-on">all</button> <button id="all-off">focus only</button></h2>
  <div id="agents"></div>
</div>
<div id="main">
  <div id="bar">
    <span id="title"></span>
    <button id="play">&#9654; play</button>
    <input type="range" id="slider" min="0" max="1" step="1" value="0" aria-label="time step">
    <span id="time"></span>
    <button id="reset">reset view</button>
  </div>
  <div id="stage"><canvas id="canvas"></canvas><div id="tip"></div></div>
</div>
<script type="application/json" id="drive-data">{data}</script>
<script>{js}</script>
</body>
</html>
"""


def viewer_html(scenes: Sequence[dict], title: str = "drive scene viewer") -> str:
    """The page for scene payloads from :func:`drive.viz.viewer_data.scene_payload`."""
    if not scenes:
        raise DataError("viewer: no scene to show")
    data = json.dumps({"scenes": list(scenes)}, separators=(",", ":"), allow_nan=False)
    # "</" inside the JSON would end the script element early; "<\/" is the same JSON string.
    data = data.replace("</", "<\\/")
    return _PAGE.format(title=html.escape(title), css=VIEWER_CSS, data=data, js=VIEWER_JS)


def write_viewer(path: str | Path, scenes: Iterable[dict], title: str | None = None) -> Path:
    """Write the viewer for ``scenes`` to ``path`` (.html), atomically; returns the path."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"viewer path: suffix must be .html, got {path.suffix!r}")
    text = viewer_html(list(scenes), title or f"drive viewer: {path.stem}")
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        # mkstemp creates the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path
