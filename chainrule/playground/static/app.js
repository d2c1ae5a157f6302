// The playground page: a form that configures a chainrule network on the server, and canvases that
// draw what the server streams back over one WebSocket (protocol: see chainrule/playground/app.py).
"use strict";

const $ = (id) => document.getElementById(id);
const CLASS_COLOURS = [[37, 99, 235], [234, 88, 12], [22, 163, 74], [147, 51, 234], [219, 39, 119],
  [202, 138, 4], [8, 145, 178], [100, 116, 139]];
const MAX_POINTS = 4000; // per plotted series; older points are thinned so the page never grows without bound
const NUMBER_FIELDS = ["noise", "n_points", "test_fraction", "dropout", "lr", "momentum", "batch_size", "seed",
  "restarts", "epochs"];
const SELECT_FIELDS = ["dataset", "activation", "init", "loss", "optimizer", "schedule"];
const CHECK_FIELDS = ["batch_norm", "residual"];

const state = {
  ws: null, options: null, csvText: "", running: false,
  base: {}, // the config the form edits: settings without a field (e.g. the boundary's resolution) come from here
  data: null, // the last "ready": train/test points, classes, extent
  boundary: null,
  history: { epoch: [], train_loss: [], test_loss: [] },
  grads: { layers: [], steps: [], series: [] }, // series[i] = norms of layers[i], one per frame, at steps
  frames: 0,
};

// ---- the form -------------------------------------------------------------------------------

function fillSelect(name, values) {
  const select = $("f-" + name);
  select.replaceChildren(...values.map((v) => new Option(v, v)));
}

function setForm(config) {
  for (const [key, value] of Object.entries(config)) {
    const input = $("f-" + key);
    if (!input) continue;
    if (input.type === "checkbox") input.checked = Boolean(value);
    else if (key === "hidden") input.value = Array.isArray(value) ? value.join(", ") : String(value);
    else if (input.tagName === "SELECT") {
      if (![...input.options].some((o) => o.value === String(value))) input.add(new Option(value, value));
      input.value = String(value);
    } else input.value = value === null || value === undefined ? "" : String(value);
  }
  $("csv-row").hidden = $("f-dataset").value !== "csv";
}

// Numbers are sent as numbers when they parse; anything else goes as typed, so the server's message
// (naming the field, what it got and what it expects) is the one the user reads.
function readNumber(text) {
  const t = text.trim();
  return t !== "" && Number.isFinite(Number(t)) ? Number(t) : t;
}

function readHidden(text) {
  const parts = text.split(/[\s,]+/).filter((p) => p !== "");
  return parts.every((p) => /^[+-]?\d+$/.test(p)) ? parts.map(Number) : text;
}

function readForm() {
  const config = { ...state.base };
  for (const f of SELECT_FIELDS) config[f] = $("f-" + f).value;
  for (const f of NUMBER_FIELDS) config[f] = readNumber($("f-" + f).value);
  for (const f of CHECK_FIELDS) config[f] = $("f-" + f).checked;
  config.hidden = readHidden($("f-hidden").value);
  if (config.dataset === "csv") config.csv_text = state.csvText || state.base.csv_text || "";
  else delete config.csv_text;
  return config;
}

// ---- messages to the server -------------------------------------------------------------------

function send(message) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
    showError(null, "not connected to the playground server; reload the page once it runs");
    return;
  }
  state.ws.send(JSON.stringify(message));
}

function configure(config) {
  clearErrors();
  send({ type: "configure", config });
}

// ---- errors ---------------------------------------------------------------------------------

function clearErrors() {
  $("error").hidden = true;
  $("error").textContent = "";
  for (const el of document.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of document.querySelectorAll(".invalid")) el.classList.remove("invalid");
}

function showError(field, message) {
  const box = $("error");
  box.textContent = field ? `${field}: ${message}` : message;
  box.hidden = false;
  const slot = field && $("error-" + field);
  if (slot) slot.textContent = message;
  const input = field && $("f-" + (field === "csv_text" ? "csv" : field));
  if (input) input.classList.add("invalid");
}

// ---- messages from the server -----------------------------------------------------------------

function onReady(msg) {
  state.data = msg;
  state.base = { ...msg.config };
  state.boundary = null;
  state.history = { epoch: [], train_loss: [], test_loss: [] };
  state.grads = { layers: [], steps: [], series: [] };
  state.frames = 0;
  setForm(msg.config);
  $("architecture").textContent = msg.architecture || "";
  for (const id of ["train-acc", "test-acc"]) { $(id).textContent = "–"; $(id).dataset.value = ""; }
  document.body.dataset.readyCount = String(Number(document.body.dataset.readyCount || 0) + 1);
  drawAll();
}

function appendHistory(h) {
  if (!h || !h.epoch) return;
  const H = state.history;
  const last = H.epoch.length ? H.epoch[H.epoch.length - 1] : -Infinity;
  h.epoch.forEach((e, i) => {
    if (e <= last) return; // a full history resent: keep only what is new
    H.epoch.push(e);
    H.train_loss.push(h.train_loss[i]);
    H.test_loss.push(h.test_loss ? h.test_loss[i] : null);
  });
  if (H.epoch.length > MAX_POINTS) for (const k of Object.keys(H)) H[k] = H[k].filter((_, i) => i % 2 === 0);
}

function appendGrads(norms, step) {
  if (!norms || !norms.length) return;
  const G = state.grads;
  const names = norms.map((n) => n.layer);
  if (names.join("|") !== G.layers.join("|")) { G.layers = names; G.steps = []; G.series = names.map(() => []); }
  if (G.steps.length && step <= G.steps[G.steps.length - 1]) return; // no new batch since the last frame
  G.steps.push(step);
  norms.forEach((n, i) => G.series[i].push(n.norm));
  if (G.steps.length > MAX_POINTS) {
    const even = (_, i) => i % 2 === 0;
    G.steps = G.steps.filter(even);
    G.series = G.series.map((s) => s.filter(even));
  }
}

function fmt(x, digits = 4) {
  return x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(digits);
}

function onFrame(msg) {
  state.frames += 1;
  $("epoch").textContent = msg.epoch;
  $("step").textContent = msg.step;
  $("train-loss").textContent = fmt(msg.train_loss);
  $("test-loss").textContent = fmt(msg.test_loss);
  for (const [id, value] of [["train-acc", msg.train_accuracy], ["test-acc", msg.test_accuracy]]) {
    $(id).textContent = fmt(value, 3);
    $(id).dataset.value = value === null || value === undefined ? "" : String(value);
  }
  $("lr-now").textContent = msg.lr === undefined ? "–" : Number(msg.lr).toPrecision(3);
  // With restarts the server trains several networks side by side and shows the best one.
  const losses = msg.restart_losses || [];
  $("restarts-row").hidden = $("restart-losses").hidden = losses.length < 2;
  if (losses.length > 1) {
    const seed = Number(state.base.seed) || 0;
    $("restart-shown").textContent = `${msg.restart + 1} of ${losses.length} (seed ${seed + msg.restart})`;
    $("restart-losses").textContent = "train loss of each restart: " +
      losses.map((l, i) => `seed ${seed + i}: ${fmt(l)}`).join(" · ");
  }
  appendHistory(msg.new_history || msg.history);
  appendGrads(msg.grad_norms, msg.step);
  if (msg.boundary) state.boundary = msg.boundary;
  const verdict = $("verdict");
  verdict.textContent = msg.verdict ? msg.verdict.text : "";
  verdict.className = "verdict " + (msg.verdict ? msg.verdict.kind : "");
  requestDraw();
}

function onStatus(msg) {
  state.running = Boolean(msg.running);
  // The server says why it stopped by itself (the last epoch, a loss that is no longer finite).
  $("status").textContent = msg.message ||
    (state.running ? "running" : "paused") + (msg.epoch !== undefined ? `, epoch ${msg.epoch}` : "");
  $("btn-start").disabled = state.running;
  $("btn-pause").disabled = !state.running;
}

function onMessage(event) {
  let msg;
  try { msg = JSON.parse(event.data); } catch { return showError(null, "the server sent something that is not JSON"); }
  if (msg.type === "ready") { clearErrors(); onReady(msg); }
  else if (msg.type === "frame") onFrame(msg);
  else if (msg.type === "status") onStatus(msg);
  else if (msg.type === "explain") $("explain").textContent = msg.text;
  else if (msg.type === "error") showError(msg.field, msg.message);
  else if (msg.type === "full") showError(null, msg.message);
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  state.ws = ws;
  ws.onopen = () => {
    $("connection").textContent = "connected";
    $("connection").className = "badge ok";
    configure(readForm());
  };
  ws.onmessage = onMessage;
  ws.onclose = () => {
    if ($("error").hidden) showError(null, "the connection to the playground server closed; reload the page to start again");
    $("connection").textContent = "disconnected";
    $("connection").className = "badge bad";
    onStatus({ running: false });
  };
}

// ---- drawing ----------------------------------------------------------------------------------

let drawPending = false;
function requestDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; drawAll(); });
}

function drawAll() {
  drawBoundary();
  drawLoss();
  drawGrads();
}

function drawBoundary() {
  const canvas = $("boundary");
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  if (!state.data) return;
  const [xmin, xmax, ymin, ymax] = state.data.extent;
  const sx = (x) => ((x - xmin) / (xmax - xmin)) * W;
  const sy = (y) => H - ((y - ymin) / (ymax - ymin)) * H; // y grows upwards, rows downwards
  const b = state.boundary;
  if (b && b.grid && b.grid.length === b.resolution * b.resolution) {
    // One pixel per grid cell, scaled up: the colour is the class, its strength the confidence
    // above chance (1/K), so uncertain regions fade to white near the boundary.
    const R = b.resolution, K = Math.max(b.classes || state.data.classes || 2, 2);
    const image = ctx.createImageData(R, R);
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < R; c++) {
        const k = b.grid[r * R + c];
        const conf = b.confidence ? b.confidence[r * R + c] : 1;
        const strength = 0.12 + 0.55 * Math.min(Math.max((conf - 1 / K) / (1 - 1 / K), 0), 1);
        const colour = CLASS_COLOURS[k % CLASS_COLOURS.length];
        const o = ((R - 1 - r) * R + c) * 4; // row 0 is ymin: the bottom of the picture
        for (let j = 0; j < 3; j++) image.data[o + j] = Math.round(255 + (colour[j] - 255) * strength);
        image.data[o + 3] = 255;
      }
    }
    const off = document.createElement("canvas");
    off.width = R; off.height = R;
    off.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, 0, 0, W, H);
  }
  const dot = (p, test) => {
    const colour = CLASS_COLOURS[p[2] % CLASS_COLOURS.length];
    const x = sx(p[0]), y = sy(p[1]);
    ctx.fillStyle = `rgb(${colour})`;
    if (test) {
      ctx.fillRect(x - 4, y - 4, 8, 8);
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(x - 4, y - 4, 8, 8);
    } else {
      ctx.beginPath();
      ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 1;
      ctx.stroke();
    }
  };
  for (const p of state.data.train || []) dot(p, false);
  for (const p of state.data.test || []) dot(p, true);
}

// Axes with a few ticks; returns the scale functions for the plot area.
function axes(ctx, W, H, x0, x1, y0, y1, yLabel, logY, T = 10, xLabel = "") {
  const L = 48, R = 16, B = 30;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  const sx = (x) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  ctx.strokeStyle = "#999";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(L, T); ctx.lineTo(L, H - B); ctx.lineTo(W - R, H - B);
  ctx.stroke();
  ctx.fillStyle = "#444";
  ctx.font = "11px sans-serif";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const ticks = logY ? logTicks(y0, y1) : linearTicks(y0, y1);
  for (const t of ticks) {
    ctx.fillText(logY ? "1e" + t : formatTick(t), L - 4, sy(t));
    ctx.strokeStyle = "#eee";
    ctx.beginPath(); ctx.moveTo(L + 1, sy(t)); ctx.lineTo(W - R, sy(t)); ctx.stroke();
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of linearTicks(x0, x1, true)) ctx.fillText(formatTick(t), sx(t), H - B + 3);
  ctx.textAlign = "right";
  ctx.fillText(xLabel, W - R, H - 13);
  ctx.textAlign = "center";
  ctx.save();
  ctx.translate(10, (H - B) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle";
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
  return { sx, sy };
}

function linearTicks(a, b, whole = false) {
  if (!(b > a)) return [a];
  const raw = Math.max((b - a) / 4, whole ? 1 : 0), p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
  const out = [];
  for (let t = Math.ceil(a / step) * step; t <= b + 1e-9 * step; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function logTicks(a, b) {
  const out = [];
  const step = Math.max(1, Math.ceil((b - a) / 5));
  for (let t = Math.ceil(a); t <= b; t += step) out.push(t);
  return out;
}

function formatTick(t) {
  return Math.abs(t) >= 1e6 || (Math.abs(t) < 0.01 && t !== 0) ? t.toExponential(0) : String(t);
}

function line(ctx, xs, ys, sx, sy, colour, width = 1.5) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.beginPath();
  let pen = false;
  xs.forEach((x, i) => {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) { pen = false; return; }
    if (pen) ctx.lineTo(sx(x), sy(y)); else ctx.moveTo(sx(x), sy(y));
    pen = true;
  });
  ctx.stroke();
}

function drawLoss() {
  const canvas = $("loss");
  const ctx = canvas.getContext("2d");
  const H = state.history;
  const values = [...H.train_loss, ...H.test_loss].filter((v) => v !== null && Number.isFinite(v));
  const x0 = H.epoch.length ? H.epoch[0] : 0, x1 = H.epoch.length ? H.epoch[H.epoch.length - 1] : 1;
  const top = values.length ? Math.max(...values) : 1;
  const { sx, sy } = axes(ctx, canvas.width, canvas.height, Math.min(x0, 0), Math.max(x1, 1), 0, top * 1.05 || 1,
    "loss", false, 26, "epoch");
  line(ctx, H.epoch, H.train_loss, sx, sy, "#2563eb", 2);
  line(ctx, H.epoch, H.test_loss, sx, sy, "#ea580c", 2);
  legend(ctx, [["train", "#2563eb"], ["test", "#ea580c"]]);
}

// Legends sit in the plot's top margin, in a row, so the lines never hide them.
function legend(ctx, entries) {
  ctx.font = "11px sans-serif";
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  let x = 56;
  for (const [name, colour] of entries) {
    ctx.fillStyle = colour;
    ctx.fillRect(x, 10, 14, 4);
    ctx.fillStyle = "#333";
    ctx.fillText(name, x + 18, 12);
    x += 30 + ctx.measureText(name).width;
  }
}

// Input-side layers light, output-side layers dark: a vanishing gradient shows as the light lines
// sinking below the dark ones.
function depthColour(i, n) {
  const t = n <= 1 ? 1 : i / (n - 1);
  const a = [253, 186, 116], b = [30, 64, 175];
  return `rgb(${a.map((v, j) => Math.round(v + (b[j] - v) * t))})`;
}

function drawGrads() {
  const canvas = $("grads");
  const ctx = canvas.getContext("2d");
  const G = state.grads;
  const logs = G.series.map((s) => s.map((v) => (v > 0 && Number.isFinite(v) ? Math.log10(v) : null)));
  const all = logs.flat().filter((v) => v !== null);
  let lo = all.length ? Math.floor(Math.min(...all)) : -3, hi = all.length ? Math.ceil(Math.max(...all)) : 1;
  if (hi <= lo) hi = lo + 1;
  const xs = G.steps;
  const x1 = xs.length ? xs[xs.length - 1] : 1;
  // The top margin holds the legend, so the lines never hide it.
  const { sx, sy } = axes(ctx, canvas.width, canvas.height, 0, Math.max(x1, 1), lo, hi, "‖dL/dW‖", true, 26,
    "batches trained");
  logs.forEach((s, i) => line(ctx, xs, s, sx, sy, depthColour(i, logs.length)));
  if (G.layers.length) {
    const last = G.layers.length - 1;
    const entries = [[G.layers[0] + " (input side)", depthColour(0, G.layers.length)]];
    if (last > 0) entries.push([G.layers[last] + " (output side)", depthColour(last, G.layers.length)]);
    legend(ctx, entries);
  }
}

// ---- start ------------------------------------------------------------------------------------

function applyPreset(name) {
  const presets = state.options.presets || {};
  if (!presets[name]) return showError(null, `the server has no preset "${name}"`);
  const notes = state.options.preset_notes || {};
  $("preset-note").textContent = notes[name] || "";
  send({ type: "pause" });
  state.base = { ...presets[name] };
  setForm(presets[name]);
  configure(readForm());
}

function bind() {
  $("config").addEventListener("submit", (e) => { e.preventDefault(); $("preset-note").textContent = ""; configure(readForm()); });
  $("btn-start").onclick = () => send({ type: "start" });
  $("btn-pause").onclick = () => send({ type: "pause" });
  $("btn-step").onclick = () => send({ type: "step" });
  $("btn-reset").onclick = () => send({ type: "reset" });
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.onclick = () => applyPreset(button.dataset.preset);
  }
  $("f-dataset").onchange = () => { $("csv-row").hidden = $("f-dataset").value !== "csv"; };
  $("f-csv").onchange = () => {
    const file = $("f-csv").files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => { state.csvText = String(reader.result); };
    reader.onerror = () => showError("csv_text", `could not read ${file.name}`);
    reader.readAsText(file);
  };
}

async function init() {
  bind();
  onStatus({ running: false });
  try {
    const response = await fetch("/api/options");
    if (!response.ok) throw new Error(`GET /api/options answered ${response.status}`);
    state.options = await response.json();
  } catch (err) {
    showError(null, `cannot load the options from the server: ${err.message}`);
    return;
  }
  const o = state.options;
  fillSelect("dataset", o.datasets);
  for (const f of ["activation", "init", "loss", "optimizer", "schedule"]) fillSelect(f, o[f + "s"] || []);
  for (const button of document.querySelectorAll("[data-preset]")) {
    if (!(o.presets || {})[button.dataset.preset]) button.hidden = true;
    const note = (o.preset_notes || {})[button.dataset.preset];
    if (note) button.title = note;
  }
  state.base = { ...(o.defaults || {}) };
  setForm(state.base);
  document.body.dataset.ready = "true";
  connect();
  drawAll();
}

init();
