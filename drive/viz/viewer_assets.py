"""The viewer's inline CSS and JavaScript (no external resources: the file must open offline).

The script reads the JSON in ``<script id="drive-data">``, draws on one canvas, and publishes its
state as ``window.driveViewer`` and as ``data-*`` attributes on the canvas (step, agents and modes
drawn) so the page can be checked by a browser driver. The script is one function in two parts: this
module holds the state and drawing (it opens the function), :mod:`drive.viz.viewer_controls` the
controls (it closes it); :data:`VIEWER_JS` joins them.
"""

VIEWER_CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.35 system-ui, sans-serif; color: #222; display: flex; height: 100vh; }
#side { width: 350px; overflow: auto; border-right: 1px solid #ccc; padding: 8px; background: #fafafa; }
#main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
#bar { display: flex; gap: 8px; align-items: center; padding: 6px 8px; border-bottom: 1px solid #ccc;
       flex-wrap: wrap; }
#bar input[type=range] { flex: 1; min-width: 160px; }
#stage { flex: 1; position: relative; min-height: 0; }
#canvas { width: 100%; height: 100%; display: block; cursor: grab; background: #fff; }
#tip { position: absolute; pointer-events: none; background: rgba(30,30,30,.88); color: #fff;
       padding: 3px 6px; border-radius: 3px; font-size: 12px; display: none; white-space: nowrap; }
h2 { font-size: 14px; margin: 10px 0 4px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th { cursor: pointer; text-align: left; border-bottom: 1px solid #999; user-select: none; }
td, th { padding: 2px 4px; }
tr.scene-row { cursor: pointer; }
td.id { max-width: 140px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
tr.scene-row:hover { background: #e8eef6; }
tr.scene-row.current { background: #cfe0f5; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
label { display: block; white-space: nowrap; }
#modes label { display: inline-block; margin-right: 8px; }
#title { font-weight: 600; }
"""

VIEWER_JS_DRAWING = r"""
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("drive-data").textContent);
  const AGENT_COLOURS = {vehicle: "#0072B2", pedestrian: "#D55E00", cyclist: "#009E73", other: "#7F7F7F"};
  const MAP_STYLES = {
    lane: ["#B8C4D0", 1, [6, 4], false], road_line: ["#C9A227", 1.2, [], false],
    road_edge: ["#3B3B3B", 1.8, [], false], stop_sign: ["#C0392B", 0, [], false],
    crosswalk: ["#9FB8A0", 1, [], true], speed_bump: ["#D8A2D8", 1, [], true],
    driveway: ["#E3D9C6", 1, [], true]
  };
  // WOMD signal state codes: 0 unknown, 1/4/7 stop, 2/5/8 caution, 3/6 go.
  const SIGNAL_COLOURS = ["#9E9E9E", "#D7191C", "#F5B800", "#1A9641", "#D7191C", "#F5B800", "#1A9641",
                          "#D7191C", "#F5B800"];
  const MODE_COLOURS = ["#CC79A7", "#56B4E9", "#E69F00", "#009E73", "#F0E442", "#0072B2", "#D55E00",
    "#999999"];
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas"), ctx = canvas.getContext("2d"), tip = $("tip"), slider = $("slider");
  const state = {scene: 0, step: 0, cx: 0, cy: 0, scale: 1, hiddenAgents: new Set(), hiddenModes: new Set(),
                 showAttention: true, playing: null, sortKey: null, sortDesc: true,
                 drawn: {agents: 0, modes: 0, map: 0}};
  const scene = () => DATA.scenes[state.scene];
  const modeColour = (k) => MODE_COLOURS[k % MODE_COLOURS.length];

  function resize() {
    const r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(r.width * dpr));
    canvas.height = Math.max(1, Math.round(r.height * dpr));
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  function size() { const r = canvas.getBoundingClientRect(); return [r.width, r.height]; }
  function toScreen(x, y) {
    const [w, h] = size();
    return [(x - state.cx) * state.scale + w / 2, h / 2 - (y - state.cy) * state.scale];
  }
  function toWorld(px, py) {
    const [w, h] = size();
    return [(px - w / 2) / state.scale + state.cx, state.cy - (py - h / 2) / state.scale];
  }
  function resetView() {
    const v = scene().view, [w, h] = size();
    state.cx = v.cx; state.cy = v.cy; state.scale = Math.min(w, h) / (2 * v.half);
  }
  function path(xs, ys, from, to) {
    let open = false;
    ctx.beginPath();
    for (let t = from; t <= to; t++) {
      if (xs[t] === null || xs[t] === undefined) { open = false; continue; }
      const [px, py] = toScreen(xs[t], ys[t]);
      if (open) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      open = true;
    }
    ctx.stroke();
  }
  function drawMap(s) {
    for (const f of s.map) {
      const st = MAP_STYLES[f.t] || MAP_STYLES.lane, p = f.p;
      ctx.strokeStyle = st[0]; ctx.fillStyle = st[0]; ctx.lineWidth = st[1]; ctx.setLineDash(st[2]);
      if (f.t === "stop_sign") {
        const [px, py] = toScreen(p[0], p[1]);
        ctx.beginPath(); ctx.arc(px, py, 4, 0, 2 * Math.PI); ctx.fill(); continue;
      }
      ctx.beginPath();
      for (let i = 0; i < p.length; i += 2) {
        const [px, py] = toScreen(p[i], p[i + 1]);
        if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
      }
      if (st[3] && p.length >= 6) { ctx.globalAlpha = 0.6; ctx.fill(); ctx.globalAlpha = 1;
        } else ctx.stroke();
    }
    ctx.setLineDash([]);
    state.drawn.map = s.map.length;
  }
  function drawLights(s, t) {
    for (const l of s.lights || []) {
      if (l.x[t] === null) continue;
      const [px, py] = toScreen(l.x[t], l.y[t]);
      ctx.fillStyle = SIGNAL_COLOURS[l.s[t]] || SIGNAL_COLOURS[0];
      ctx.beginPath(); ctx.arc(px, py, 4, 0, 2 * Math.PI); ctx.fill();
    }
  }
  function drawBox(a, t) {
    const [px, py] = toScreen(a.x[t], a.y[t]), h = a.h[t];
    ctx.save(); ctx.translate(px, py); ctx.rotate(-h);
    const l = a.len * state.scale, w = a.wid * state.scale;
    ctx.fillStyle = AGENT_COLOURS[a.type]; ctx.globalAlpha = 0.9;
    ctx.fillRect(-l / 2, -w / 2, l, w); ctx.globalAlpha = 1;
    ctx.lineWidth = a.focus ? 2 : 0.7; ctx.strokeStyle = a.focus ? "#000" : "#fff";
    ctx.strokeRect(-l / 2, -w / 2, l, w);
    if (a.len >= 1.5) {  // a heading tick only where the box is long enough to carry one
      ctx.beginPath(); ctx.moveTo(0, 0); ctx.lineTo(l / 2, 0); ctx.strokeStyle = "#fff"; ctx.lineWidth = 1;
      ctx.stroke();
    }
    ctx.restore();
  }
  function drawAttention(s, t) {
    const at = s.attention;
    if (!at || !state.showAttention) return;
    const src = s.agents[at.agent];
    if (src.x[t] === null) return;
    const wmax = Math.max(1e-9, ...at.w.filter((w, i) => i !== at.agent && s.agents[i].x[t] !== null));
    const [sx, sy] = toScreen(src.x[t], src.y[t]);
    at.w.forEach((w, i) => {
      const a = s.agents[i];
      if (i === at.agent || a.x[t] === null || w <= 0) return;
      const [px, py] = toScreen(a.x[t], a.y[t]);
      ctx.strokeStyle = "rgba(230,159,0," + (0.15 + 0.85 * w / wmax) + ")";
      ctx.lineWidth = 0.5 + 4 * w / wmax;
      ctx.beginPath(); ctx.moveTo(sx, sy); ctx.lineTo(px, py); ctx.stroke();
    });
  }
  function drawForecast(s) {
    let modes = 0;
    for (const f of s.forecast) {
      if (state.hiddenAgents.has(f.agent)) continue;
      const pmax = Math.max(...f.modes.map((m) => m.p), 1e-9);
      f.modes.forEach((m, k) => {
        if (state.hiddenModes.has(k)) return;
        ctx.strokeStyle = modeColour(k); ctx.globalAlpha = 0.2 + 0.8 * m.p / pmax; ctx.lineWidth = 2;
        const a = s.agents[f.agent];
        const xs = [a.x[s.current]].concat(m.x), ys = [a.y[s.current]].concat(m.y);
        path(xs, ys, 0, xs.length - 1);
        const [ex, ey] = toScreen(m.x[m.x.length - 1], m.y[m.y.length - 1]);
        ctx.fillStyle = modeColour(k); ctx.beginPath(); ctx.arc(ex, ey, 2.5, 0, 2 * Math.PI); ctx.fill();
        ctx.globalAlpha = 1; modes++;
      });
    }
    return modes;
  }
  function render() {
    const s = scene(), t = state.step, [w, h] = size();
    ctx.clearRect(0, 0, w, h); ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
    drawMap(s);
    drawLights(s, t);
    drawAttention(s, t);
    let agents = 0;
    s.agents.forEach((a, i) => {
      if (state.hiddenAgents.has(i)) return;
      ctx.strokeStyle = AGENT_COLOURS[a.type]; ctx.lineWidth = 1.5; path(a.x, a.y, 0, t);
      if (a.focus) {
        ctx.setLineDash([5, 4]); ctx.strokeStyle = "#222"; path(a.x, a.y, t, s.steps - 1);
          ctx.setLineDash([]);
      }
    });
    state.drawn.modes = t >= s.current ? drawForecast(s) : 0;
    s.agents.forEach((a, i) => {
      if (state.hiddenAgents.has(i) || a.x[t] === null) return;
      drawBox(a, t); agents++;
    });
    state.drawn.agents = agents;
    drawScaleBar(w, h);
    const secs = ((t - s.current) * s.dt).toFixed(1);
    $("time").textContent = "step " + t + " / " + (s.steps - 1) + "  (t = " + (t >= s.current ? "+" :
      "") + secs + " s)";
    canvas.dataset.step = String(t);
    canvas.dataset.agentsDrawn = String(agents);
    canvas.dataset.modesDrawn = String(state.drawn.modes);
    canvas.dataset.scene = s.id;
  }
  function drawScaleBar(w, h) {
    const target = w / 5 / state.scale, p = Math.pow(10, Math.floor(Math.log10(target)));
    const len = [5, 2, 1].map((m) => m * p).find((v) => v <= target) || p;
    ctx.strokeStyle = "#000"; ctx.lineWidth = 3;
    ctx.beginPath(); ctx.moveTo(16, h - 20); ctx.lineTo(16 + len * state.scale, h - 20); ctx.stroke();
    ctx.fillStyle = "#000"; ctx.font = "12px sans-serif"; ctx.fillText(len + " m", 16, h - 26);
  }
  function setStep(t) {
    const s = scene();
    state.step = Math.max(0, Math.min(s.steps - 1, Math.round(t)));
    slider.value = String(state.step);
    render();
  }
"""


def _viewer_js() -> str:
    from drive.viz.viewer_controls import VIEWER_JS_CONTROLS

    return VIEWER_JS_DRAWING + VIEWER_JS_CONTROLS


VIEWER_JS = _viewer_js()
