"""The viewer's controls: per-agent and per-mode toggles, the scene list, hover, pan and zoom, the
slider, play and keyboard, and start-up. The second half of the viewer's script (see
:mod:`drive.viz.viewer_assets`); it closes the function the first half opens.
"""

VIEWER_JS_CONTROLS = r"""
  function el(tag, text) { const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text; return e; }
  function checkbox(label, checked, onChange, colour) {
    const l = el("label"), c = el("input");
    c.type = "checkbox"; c.checked = checked;
    c.addEventListener("change", () => { onChange(c.checked); render(); });
    l.appendChild(c);
    if (colour) { const sw = el("span"); sw.className = "swatch"; sw.style.background = colour;
      l.appendChild(sw); }
    l.appendChild(document.createTextNode(label));
    return l;
  }
  function buildToggles() {
    const s = scene(), box = $("agents"), modes = $("modes");
    box.replaceChildren(); modes.replaceChildren();
    state.hiddenAgents.clear(); state.hiddenModes.clear();
    const order = s.agents.map((a, i) => i).sort((i,
      j) => (s.agents[j].focus - s.agents[i].focus) || (i - j));
    for (const i of order) {
      const a = s.agents[i];
      const label = (a.focus ? "\u2605 " : "") + a.id + " " + a.type + (a.sdc ? " (sdc)" : "");
      const c = checkbox(label, true, (on) => { if (on) state.hiddenAgents.delete(i);
        else state.hiddenAgents.add(i); },
                         AGENT_COLOURS[a.type]);
      c.dataset.agentIndex = String(i);
      box.appendChild(c);
    }
    const k = Math.max(0, ...s.forecast.map((f) => f.modes.length));
    for (let m = 0; m < k; m++) {
      modes.appendChild(checkbox("mode " + (m + 1), true,
        (on) => { if (on) state.hiddenModes.delete(m); else state.hiddenModes.add(m); }, modeColour(m)));
    }
    $("attn").style.display = s.attention ? "" : "none";
  }
  function selectScene(i) {
    state.scene = i;
    const s = scene();
    slider.max = String(s.steps - 1);
    $("title").textContent = s.id + " (" + s.source + ")";
    buildToggles(); resetView(); setStep(s.current); markCurrentRow();
  }
  function errorOf(s, key) { return s.errors && typeof s.errors[key] === "number" ? s.errors[key] : null; }
  const COLUMNS = [["#", (s, i) => i], ["scenario", (s) => s.id], ["agents", (s) => s.agents.length],
                   ["minADE", (s) => errorOf(s, "minADE")], ["minFDE", (s) => errorOf(s, "minFDE")]];
  function buildSceneList() {
    const table = $("scenes"), head = el("tr");
    table.replaceChildren();
    COLUMNS.forEach(([name], c) => {
      const th = el("th", name + (state.sortKey === c ? (state.sortDesc ? " \u25BC" : " \u25B2") : ""));
      th.addEventListener("click", () => { state.sortDesc = state.sortKey === c ? !state.sortDesc : true;
                                            state.sortKey = c; buildSceneList(); });
      head.appendChild(th);
    });
    table.appendChild(head);
    let order = DATA.scenes.map((s, i) => i);
    if (state.sortKey !== null) {
      const get = COLUMNS[state.sortKey][1];
      order.sort((i, j) => {
        const a = get(DATA.scenes[i], i), b = get(DATA.scenes[j], j);
        if (a === null && b === null) return i - j;
        if (a === null) return 1;
        if (b === null) return -1;
        const cmp = typeof a === "number" ? a - b : String(a).localeCompare(String(b));
        return state.sortDesc ? -cmp : cmp;
      });
    }
    for (const i of order) {
      const s = DATA.scenes[i], tr = el("tr");
      tr.className = "scene-row"; tr.dataset.index = String(i);
      COLUMNS.forEach(([name, get]) => {
        const v = get(s, i), metric = name.startsWith("min");
        const td = el("td", v === null ? "\u2013" : metric ? v.toFixed(2) : String(v));
        if (name === "scenario") { td.className = "id"; td.title = String(v); }
        tr.appendChild(td);
      });
      tr.addEventListener("click", () => selectScene(i));
      table.appendChild(tr);
    }
    markCurrentRow();
  }
  function markCurrentRow() {
    document.querySelectorAll("tr.scene-row").forEach((r) => r.classList.toggle("current",
      Number(r.dataset.index) === state.scene));
  }
  function hover(ev) {
    const r = canvas.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;
    const [x, y] = toWorld(px, py), s = scene(), t = state.step;
    let best = null, bestD = 10;
    s.agents.forEach((a, i) => {
      if (state.hiddenAgents.has(i) || a.x[t] === null) return;
      const [ax, ay] = toScreen(a.x[t], a.y[t]);
      const d = Math.hypot(ax - px, ay - py) - Math.max(a.len, a.wid) * state.scale / 2;
      if (d < bestD) { bestD = d;
        best = "agent " + a.id + " \u00B7 " + a.type + " \u00B7 " + (a.v[t] === null ? "?" :
          a.v[t].toFixed(1)) + " m/s"; }
    });
    if (best === null && t >= s.current) {
      for (const f of s.forecast) {
        if (state.hiddenAgents.has(f.agent)) continue;
        f.modes.forEach((m, k) => {
          if (state.hiddenModes.has(k)) return;
          for (let j = 0; j < m.x.length; j++) {
            const [mx, my] = toScreen(m.x[j], m.y[j]), d = Math.hypot(mx - px, my - py);
            if (d < bestD) { bestD = d;
              best = "agent " + s.agents[f.agent].id + " \u00B7 mode " + (k + 1) + " \u00B7 p = " +
                m.p.toFixed(3); }
          }
        });
      }
    }
    if (best === null) { tip.style.display = "none"; return; }
    tip.textContent = best + "  (" + x.toFixed(1) + ", " + y.toFixed(1) + ") m";
    tip.style.left = (px + 12) + "px"; tip.style.top = (py + 12) + "px"; tip.style.display = "block";
  }
  let drag = null;
  canvas.addEventListener("mousedown", (ev) => { drag = [ev.clientX, ev.clientY, state.cx, state.cy];
    canvas.style.cursor = "grabbing"; });
  window.addEventListener("mouseup", () => { drag = null; canvas.style.cursor = "grab"; });
  canvas.addEventListener("mousemove", (ev) => {
    if (drag) {
      state.cx = drag[2] - (ev.clientX - drag[0]) / state.scale;
      state.cy = drag[3] + (ev.clientY - drag[1]) / state.scale;
      render();
    } else hover(ev);
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = canvas.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;
    const [wx, wy] = toWorld(px, py), factor = Math.exp(-ev.deltaY * 0.0015);
    state.scale = Math.min(500, Math.max(0.02, state.scale * factor));
    const [nx, ny] = toWorld(px, py);
    state.cx += wx - nx; state.cy += wy - ny;
    render();
  }, {passive: false});
  slider.addEventListener("input", () => setStep(Number(slider.value)));
  function togglePlay() {
    if (state.playing) { clearInterval(state.playing); state.playing = null;
      $("play").textContent = "\u25B6 play"; return; }
    $("play").textContent = "\u23F8 pause";
    state.playing = setInterval(() => setStep(state.step >= scene().steps - 1 ? 0 : state.step + 1),
                                Math.max(20, 1000 * scene().dt));
  }
  $("play").addEventListener("click", togglePlay);
  $("reset").addEventListener("click", () => { resetView(); render(); });
  $("all-on").addEventListener("click", () => { state.hiddenAgents.clear();
    document.querySelectorAll("#agents input").forEach((c) => { c.checked = true; }); render(); });
  $("all-off").addEventListener("click", () => { scene().agents.forEach((a, i) => {
    if (!a.focus) state.hiddenAgents.add(i); });
    document.querySelectorAll("#agents label").forEach((l) => {
      const a = scene().agents[Number(l.dataset.agentIndex)]; l.firstChild.checked = a.focus; });
        render(); });
  $("attn-box").addEventListener("change", (ev) => { state.showAttention = ev.target.checked; render(); });
  window.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "INPUT" && ev.target.type !== "checkbox") return;
    if (ev.key === " ") { ev.preventDefault(); togglePlay(); }
    if (ev.key === "ArrowRight") setStep(state.step + 1);
    if (ev.key === "ArrowLeft") setStep(state.step - 1);
  });
  window.addEventListener("resize", () => { resize(); render(); });
  resize();
  const worst = DATA.scenes.some((s) => errorOf(s, "minFDE") !== null);
  if (worst) { state.sortKey = 4; state.sortDesc = true; }
  buildSceneList();
  $("scene-panel").style.display = DATA.scenes.length > 1 || worst ? "" : "none";
  selectScene(state.sortKey === null ? 0 : Number(document.querySelector("tr.scene-row").dataset.index));
  window.driveViewer = {state, setStep, selectScene, render, resetView, scene, toScreen};
})();
"""
