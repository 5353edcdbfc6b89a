// The page's entry: fetches the machines and the current snapshot, then follows the event stream
// (one `snapshot` frame per sample). Asks for the token when the server wants one.
import { el, fill } from "./dom.js";
import { drawGraph } from "./graph.js";
import { drawStatechart } from "./statechart.js";
import { drawDeadLetters, drawEpochs, drawPartitions, drawWorkers } from "./views.js";
import { drawWatermarks } from "./watermarks.js";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("weir-token"), machines: new Map(), snapshot: null, selected: null, stream: null };

function withToken(path) {
  return state.token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(state.token)}` : path;
}

async function getJson(path) {
  const response = await fetch(path, { headers: state.token ? { authorization: `Bearer ${state.token}` } : {}, cache: "no-store" });
  if (response.status === 401) throw Object.assign(new Error("token needed"), { status: 401 });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function askToken(message) {
  $("token-form").hidden = false;
  $("token-error").textContent = message ?? "";
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token-input").value.trim();
  sessionStorage.setItem("weir-token", state.token);
  start();
});

function select(vertex, partition) {
  state.selected = `${vertex}/${partition}`;
  render();
}

function selectedActors(snapshot) {
  if (!state.selected) return [];
  const [vertex, partition] = state.selected.split("/");
  const wanted = [`${vertex}/reader/${partition}`, `${vertex}/batcher/${partition}`, `${vertex}/sink/${partition}`, vertex];
  return wanted.flatMap((path) => snapshot.actors.filter((actor) => actor.path === path));
}

function render() {
  const snapshot = state.snapshot;
  if (!snapshot) return;
  $("pipeline-name").textContent = snapshot.pipeline;
  $("mode").textContent = snapshot.mode === "run" ? "· this process" : `· attached to Redis · ${snapshot.workers.filter((w) => w.alive).length} live worker(s) of ${snapshot.workers.length} registered`;
  $("problems").hidden = snapshot.problems.length === 0;
  $("problems").textContent = snapshot.problems.join(" · ");
  drawGraph($("graph"), snapshot, state.selected, select);
  drawEpochs($("epochs"), snapshot);
  drawPartitions($("partitions").querySelector("tbody"), snapshot, state.selected, select);
  drawWatermarks($("watermarks"), snapshot);
  drawWorkers($("workers"), snapshot);
  drawDeadLetters($("dlq"), snapshot);
  $("actors-title").textContent = state.selected ? `of ${state.selected.replace("/", " partition ")}` : "";
  if (state.selected) {
    const actors = selectedActors(snapshot);
    fill($("actors"), actors.length ? actors.map((actor) => drawStatechart(actor, state.machines.get(actor.machine))) : el("p", { class: "empty", text: "No live actor for this partition (not run by a live worker, or the run ended)." }));
  }
}

function follow() {
  state.stream?.close();
  const stream = new EventSource(withToken("/api/events"));
  state.stream = stream;
  stream.addEventListener("snapshot", (event) => {
    state.snapshot = JSON.parse(event.data);
    $("status").textContent = `live · ${new Date(state.snapshot.at).toLocaleTimeString()}`;
    $("status").className = "status live";
    render();
  });
  stream.addEventListener("error", () => {
    $("status").textContent = "disconnected — retrying (the run may have ended)";
    $("status").className = "status lost";
  });
}

async function start() {
  try {
    const [machines, snapshot] = await Promise.all([getJson("/api/machines"), getJson("/api/snapshot")]);
    $("token-form").hidden = true;
    state.machines = new Map(machines.machines.map((m) => [m.id, m.definition]));
    state.snapshot = snapshot;
    render();
    follow();
  } catch (error) {
    if (error.status === 401) askToken(state.token ? "That token was refused." : "");
    else {
      $("status").textContent = `cannot load: ${error.message}`;
      $("status").className = "status lost";
    }
  }
}

start();
