// cak studio: the page. Everything it shows comes from the server over one WebSocket; every
// control sends one JSON message. No library, nothing fetched from elsewhere.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
let ws = null;
let state = {};
let learnMode = false;
let dragging = null;          // the control the user is moving: server echoes do not move it back
let lastMidiEvents = 0;
const peaks = [0, 0, 0, 0];

function send(message) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

function say(text, error = false) {
  const line = String(text).split("\n")[0];
  $("message").textContent = line;
  $("message").className = error ? "error" : "";
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
  ws.onmessage = (event) => receive(JSON.parse(event.data));
  ws.onclose = () => say("connection to cak studio lost (the audio keeps running); reload the page", true);
  ws.onopen = () => { send({ type: "devices" }); };
}

function receive(msg) {
  switch (msg.type) {
    case "state": showState(msg); break;
    case "meters": showMeters(msg); break;
    case "error": say(msg.message, true); break;
    case "progress": $("progress").value = msg.value; break;
    case "exported": showExport(msg); break;
    case "midi_ports": fillSelect($("midi-port"), [["", "none"], ...msg.ports.map((p) => [p, p])], state.midi_port); break;
    case "devices":
      fillSelect($("input-device"), [["", "default"], ...msg.inputs], state.input_device ?? "");
      fillSelect($("output-device"), [["", "default"], ...msg.outputs], state.output_device ?? "");
      break;
    case "saved":
      $("map-result").innerHTML = "";
      $("map-result").append("wrote ", link(msg.name, msg.url));
      break;
  }
}

function link(text, url) {
  const a = document.createElement("a");
  a.textContent = text;
  a.href = url;
  return a;
}

function fillSelect(select, options, current) {
  select.replaceChildren(...options.map(([value, label]) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    return option;
  }));
  select.value = current == null ? "" : String(current);
}

// -- state ------------------------------------------------------------------------------------
function showState(s) {
  state = s;
  fillSelect($("preset"), s.presets.map((name, i) => [i, name]), s.preset);
  $("preset").disabled = s.chain.length > 0;
  fillSelect($("level"), s.levels.map((l) => [l, l === "match" ? "match (live: follow)" : l]), s.level);
  fillSelect($("geometry"), s.geometries.map((g) => [g, g]), s.geometry);
  $("geometry").disabled = s.chain.length > 0;  // a chain file sets its stages' geometry
  $("source").value = s.source;
  $("loop").checked = s.loop;
  if (dragging !== "mix") setMix(s.mix);
  if (dragging !== "gain") setGain(s.gain_db);
  setBypass(s.bypass);
  if (dragging !== "texture") knob.value = s.texture;
  drawKnob();
  $("file-name").textContent = s.file ? `${s.file} (${s.file_seconds.toFixed(1)} s at ${s.samplerate} Hz)` :
    "drop an audio file anywhere on the page";
  $("latency").textContent = s.latency_samples ? `${s.latency_samples} samples (${s.latency_ms.toFixed(1)} ms)` : "-";
  $("rate").textContent = s.samplerate ? `${s.samplerate} Hz` : "";
  $("midi-open").textContent = s.midi_port ? `listening on ${s.midi_port}` : "";
  for (const target of ["texture", "mix", "gain", "bypass"]) $(`bind-${target}`).textContent = s.bindings[target] || "";
  $("chain").replaceChildren(...s.chain.map((name, index) => {
    const li = document.createElement("li");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = s.stage_bypass[index];
    box.title = "bypass this stage (listening only: exports render the whole chain)";
    box.addEventListener("change", () => send({ type: "stage_bypass", index, value: box.checked }));
    const label = document.createElement("label");
    label.append(box, " bypass ");
    const stageName = document.createElement("span");
    stageName.className = "stage";
    stageName.textContent = name;
    li.append(stageName, " ", label);
    return li;
  }));
  if (s.audio_error) say(s.audio_error, true);
}

function setMix(value) { $("mix").value = Math.round(value * 100); $("mix-value").textContent = `${Math.round(value * 100)}%`; }
function setGain(db) { $("gain").value = db; $("gain-value").textContent = `${Number(db).toFixed(1)} dB`; }
function setBypass(on) { $("ab").classList.toggle("on", on); $("ab").textContent = on ? "A/B: dry" : "A/B: effect"; }

function clock(seconds) {
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - 60 * m).toFixed(1).padStart(4, "0")}`;
}

function showMeters(m) {
  if (m.texture !== undefined) {
    if (dragging !== "texture") knob.value = m.texture_target;
    knob.current = m.texture;
    drawKnob();
    $("texture-value").textContent = m.texture.toFixed(2);
    $("gate-value").textContent = m.gate.toFixed(2);
    if (dragging !== "mix") setMix(m.mix);
    if (dragging !== "gain") setGain(Math.max(-60, m.gain_db));
    setBypass(m.bypass);
    $("load").textContent = `${(100 * m.load).toFixed(0)}%`;
    $("xruns").textContent = m.xruns;
    $("program").textContent = m.program;
    m.in_peak.concat(m.out_peak).forEach((p, i) => { peaks[i] = Math.max(p, peaks[i] * 0.9); });
    drawMeters();
  }
  if (m.columns) drawColumns(m.columns);
  if (dragging !== "position") $("position").value = Math.round(1000 * m.position);
  $("time").textContent = `${clock(m.seconds)} / ${clock(state.file_seconds || 0)}`;
  $("rec").textContent = m.recording ? "recording the knob" : "";
  $("play").classList.toggle("on", m.playing);
  $("midi-led").classList.toggle("on", m.midi_events !== lastMidiEvents);
  lastMidiEvents = m.midi_events;
  for (const target of ["texture", "mix", "gain", "bypass"]) $(`bind-${target}`).textContent = m.bindings[target] || "";
  document.body.classList.toggle("learning", learnMode);
  if (learnMode && !m.learning && pendingLearn) { pendingLearn = false; learnMode = false; $("learn").classList.remove("on"); say("bound"); }
}

// -- the texture knob (canvas) -------------------------------------------------------------------
const knob = { value: 0.8, current: 0.8, min: 0, max: 2 };
function drawKnob() {
  const c = $("knob"), g = c.getContext("2d"), r = c.width / 2;
  const start = 0.75 * Math.PI, sweep = 1.5 * Math.PI;
  const at = (v) => start + sweep * (v - knob.min) / (knob.max - knob.min);
  g.clearRect(0, 0, c.width, c.height);
  g.lineWidth = 10; g.lineCap = "round";
  g.strokeStyle = "#333"; g.beginPath(); g.arc(r, r, r - 14, start, start + sweep); g.stroke();
  g.strokeStyle = "#f2a03d"; g.beginPath(); g.arc(r, r, r - 14, start, at(knob.current)); g.stroke();
  g.strokeStyle = "#fff"; g.lineWidth = 3; g.beginPath();
  g.moveTo(r + Math.cos(at(knob.value)) * 20, r + Math.sin(at(knob.value)) * 20);
  g.lineTo(r + Math.cos(at(knob.value)) * (r - 20), r + Math.sin(at(knob.value)) * (r - 20)); g.stroke();
  g.fillStyle = "#e6e6ee"; g.font = "bold 20px system-ui"; g.textAlign = "center"; g.fillText(knob.value.toFixed(2), r, r + 8);
}
function setTexture(value) {
  knob.value = Math.min(knob.max, Math.max(knob.min, Math.round(value * 1000) / 1000));
  drawKnob();
  send({ type: "set", name: "texture", value: knob.value });
}

// -- meters and spectrogram --------------------------------------------------------------------
function drawMeters() {
  const c = $("meters"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const labels = ["in L", "in R", "out L", "out R"];
  peaks.forEach((p, i) => {
    const db = p > 0 ? 20 * Math.log10(p) : -120;
    const h = Math.max(0, Math.min(1, (db + 60) / 60)) * (c.height - 20);
    g.fillStyle = db > -1 ? "#ff6b6b" : db > -12 ? "#f2a03d" : "#5f5";
    g.fillRect(10 + i * 52, c.height - 16 - h, 36, h);
    g.fillStyle = "#8a8a9a"; g.font = "11px system-ui"; g.fillText(labels[i], 10 + i * 52, c.height - 3);
  });
}
const palette = Array.from({ length: 256 }, (_, i) => {
  const t = i / 255;
  return [Math.round(255 * Math.min(1, 1.6 * t)), Math.round(255 * Math.max(0, t * t * 1.1 - 0.1)), Math.round(255 * (0.35 + 0.4 * Math.sin(Math.PI * t)))];
});
function drawColumns(columns) {
  const c = $("scope"), g = c.getContext("2d"), half = c.height / 2;
  g.drawImage(c, -2, 0);
  columns.forEach((bands, k) => {
    const h = half / bands.length;
    bands.forEach((v, b) => {
      const [r, gg, bl] = palette[v];
      g.fillStyle = `rgb(${r},${gg},${bl})`;
      g.fillRect(c.width - 2, k * half + half - (b + 1) * h, 2, Math.ceil(h));
    });
  });
}

// -- export ------------------------------------------------------------------------------------
function showExport(msg) {
  $("progress").value = 1;
  const result = $("export-result");
  result.replaceChildren("wrote ", link(msg.audio, msg.url));
  if (msg.csv) result.append(" and the knob take ", link(msg.csv, msg.csv_url));
  const code = document.createElement("code");
  code.textContent = msg.command;
  result.append(" \u2014 the same as ", code);
  const img = $("export-spectrogram");
  img.src = msg.spectrogram;
  img.hidden = false;
  say(`exported ${msg.audio}`);
}

function size(n) {
  for (const [unit, scale] of [["GB", 2 ** 30], ["MB", 2 ** 20], ["kB", 2 ** 10]]) {
    if (n >= scale) return `${Number((n / scale).toPrecision(6))} ${unit}`;
  }
  return `${n} bytes`;
}

// -- uploads -------------------------------------------------------------------------------------
async function upload(file, kind) {
  if (kind === "audio" && state.max_upload && file.size > state.max_upload) {
    say(`${file.name}: larger than the upload limit of ${size(state.max_upload)}`, true);
    return;
  }
  say(`loading ${file.name}...`);
  try {
    const response = await fetch(`/upload?token=${encodeURIComponent(token)}&kind=${kind}&name=${encodeURIComponent(file.name)}`,
      { method: "POST", body: file });
    const answer = await response.json();
    if (!response.ok) say(answer.error, true); else say(`loaded ${answer.ok}`);
  } catch (error) {
    say(`${file.name}: upload failed (${error.message})`, true);
  }
}

// -- wiring ------------------------------------------------------------------------------------
let pendingLearn = false;
function learnOr(target, action) {
  return (event) => {
    if (learnMode) {
      event.preventDefault();
      pendingLearn = true;
      send({ type: "learn", target });
      say(`move a controller to bind it to ${target}`);
      return;
    }
    action(event);
  };
}

function wire() {
  document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === tab));
    document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== `view-${tab.dataset.view}`; });
  }));
  $("learn").addEventListener("click", () => {
    learnMode = !learnMode;
    $("learn").classList.toggle("on", learnMode);
    say(learnMode ? "MIDI learn: click a control, then move a controller" : "");
  });
  $("file-input").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0], "audio"); e.target.value = ""; });
  $("preset-file").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0], "preset"); e.target.value = ""; });
  $("map-load").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0], "midimap"); e.target.value = ""; });
  document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
  document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    document.body.classList.remove("dragging");
    if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0], "audio");
  });
  $("play").addEventListener("click", () => send({ type: "transport", action: "play" }));
  $("stop").addEventListener("click", () => send({ type: "transport", action: "stop" }));
  $("loop").addEventListener("change", (e) => send({ type: "set", name: "loop", value: e.target.checked }));
  const pos = $("position");
  pos.addEventListener("pointerdown", () => { dragging = "position"; });
  pos.addEventListener("change", () => { send({ type: "transport", action: "seek", value: pos.value / 1000 }); dragging = null; });
  $("source").addEventListener("change", (e) => send({ type: "set", name: "source", value: e.target.value }));
  $("preset").addEventListener("change", (e) => send({ type: "set", name: "preset", value: Number(e.target.value) }));
  $("level").addEventListener("change", (e) => send({ type: "set", name: "level", value: e.target.value }));
  $("geometry").addEventListener("change", (e) => { say("reopening the audio device..."); send({ type: "set", name: "geometry", value: e.target.value }); });
  $("input-device").addEventListener("change", (e) => send({ type: "set", name: "input_device", value: e.target.value }));
  $("output-device").addEventListener("change", (e) => send({ type: "set", name: "output_device", value: e.target.value }));
  for (const [id, name, scale, show] of [["mix", "mix", 0.01, setMix], ["gain", "gain_db", 1, setGain]]) {
    const input = $(id);
    input.addEventListener("pointerdown", learnOr(id, () => { dragging = id; }));
    input.addEventListener("input", () => { show(input.value * scale); send({ type: "set", name, value: input.value * scale }); });
    input.addEventListener("change", () => { dragging = null; });
  }
  $("ab").addEventListener("click", learnOr("bypass", () => send({ type: "set", name: "bypass", value: !$("ab").classList.contains("on") })));
  const k = $("knob");
  let lastY = 0;
  k.addEventListener("pointerdown", learnOr("texture", (e) => { dragging = "texture"; lastY = e.clientY; k.setPointerCapture(e.pointerId); }));
  k.addEventListener("pointermove", (e) => {
    if (dragging !== "texture") return;
    setTexture(knob.value + (lastY - e.clientY) * (e.shiftKey ? 0.001 : 0.01));
    lastY = e.clientY;
  });
  k.addEventListener("pointerup", () => { dragging = null; });
  k.addEventListener("wheel", (e) => { e.preventDefault(); setTexture(knob.value - Math.sign(e.deltaY) * 0.05); });
  k.addEventListener("keydown", (e) => {
    const step = { ArrowUp: 0.01, ArrowRight: 0.01, ArrowDown: -0.01, ArrowLeft: -0.01, PageUp: 0.1, PageDown: -0.1 }[e.key];
    if (step) { e.preventDefault(); setTexture(knob.value + step); }
  });
  $("export").addEventListener("click", () => {
    $("progress").value = 0;
    say("exporting...");
    send({ type: "export", name: $("export-name").value, take: $("export-take").checked });
  });
  $("midi-refresh").addEventListener("click", () => send({ type: "midi_ports", api: $("midi-api").value }));
  $("midi-port").addEventListener("change", (e) => send({ type: "midi_open", port: e.target.value, api: $("midi-api").value }));
  $("map-save").addEventListener("click", () => send({ type: "save_map", name: $("map-name").value }));
}

wire();
drawKnob();
drawMeters();
connect();
