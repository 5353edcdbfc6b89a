// The tables: partitions, the EOT join of open epochs, workers, dead letters.
import { el, fill, rate, count, duration, time } from "./dom.js";

function onFullOf(snapshot, vertex) {
  return snapshot.graph.vertices.find((v) => v.name === vertex)?.onFull ?? "";
}

export function drawPartitions(tbody, snapshot, selected, onSelect) {
  const rows = [];
  for (const view of snapshot.vertices) {
    for (const p of view.partitions) {
      const key = `${view.name}/${p.partition}`;
      const buffer = p.buffer;
      rows.push(el("tr", { class: `clickable${selected === key ? " selected" : ""}`, dataset: { vertex: view.name, partition: String(p.partition) }, onclick: () => onSelect(view.name, p.partition) },
        el("td", { text: view.name }),
        el("td", { text: String(p.partition) }),
        el("td", { class: "text", text: view.worker ?? "this process" }),
        el("td", { class: "read-rate", text: rate(p.readRate) }),
        el("td", { class: "ack-rate", text: rate(p.ackRate) }),
        el("td", { text: count(p.read) }),
        el("td", { text: count(p.acked) }),
        el("td", { text: buffer ? count(buffer.pending) : "–" }),
        el("td", { class: buffer?.isFull ? "bad" : "", text: buffer ? `${count(buffer.length)} / ${count(buffer.maxLength)} (${Math.round(buffer.usage * 100)}%)${buffer.isFull ? " full" : ""}` : "–" }),
        el("td", { class: "text", text: onFullOf(snapshot, view.name) || "–" }),
        el("td", { text: count(p.ok) }),
        el("td", { class: p.fallback > 0 ? "warn" : "", text: count(p.fallback) }),
        el("td", { class: p.dropped > 0 ? "warn" : "", text: count(p.dropped + (view.discarded[p.partition] ?? 0)) }),
        el("td", { text: count(p.retries) }),
        el("td", { text: "" }), el("td", { text: "" }), // vertex-wide counts: on the vertex's row
        el("td", { class: p.protocolErrors > 0 ? "bad" : "", text: count(p.protocolErrors) })));
    }
    const t = view.totals;
    if (t) {
      // The vertex's own counters: its forwarder's drops (no edge condition matched) are in no partition.
      rows.push(el("tr", { class: "vertex-total", dataset: { vertex: view.name } },
        el("td", { text: view.name }), el("td", { text: "all" }), el("td", { class: "text", text: view.worker ?? "this process" }),
        el("td", { text: "" }), el("td", { text: "" }), el("td", { text: count(t.read) }), el("td", { text: count(t.acked) }),
        el("td", { text: "" }), el("td", { text: "" }), el("td", { text: "" }),
        el("td", { text: count(t.ok) }), el("td", { class: t.fallback > 0 ? "warn" : "", text: count(t.fallback) }),
        el("td", { class: t.dropped > 0 ? "warn" : "", text: count(t.dropped) }), el("td", { text: "" }),
        el("td", { class: "retried-later", text: count(t.retriedLater ?? 0) }), el("td", { class: "held-back", text: count(t.heldBack ?? 0) }),
        el("td", { class: t.protocolErrors > 0 ? "bad" : "", text: count(t.protocolErrors) })));
    }
  }
  fill(tbody, rows);
}

const STATUS_TEXT = { done: "done", eotReceived: "EOT in, writing", waitingForEot: "no EOT yet" };

export function drawEpochs(container, snapshot) {
  const blocks = [];
  for (const view of snapshot.vertices) {
    for (const epoch of view.epochs) {
      const waiting = epoch.waitingFor.length === 0
        ? el("span", { class: "ok", text: epoch.committing ? "joined · committing" : "joined" })
        : el("span", { class: "waiting", text: `waiting for partition${epoch.waitingFor.length > 1 ? "s" : ""} ${epoch.waitingFor.join(", ")}${epoch.waitingMs > 0 ? ` for ${duration(epoch.waitingMs)}` : ""}` });
      blocks.push(el("div", { class: "epoch", dataset: { vertex: view.name, epoch: String(epoch.epoch) } },
        el("strong", { text: `${view.name} · epoch ${epoch.epoch}` }), " ",
        el("span", { class: "hint", text: `closed ${duration(epoch.openMs)} ago${view.worker ? ` · ${view.worker}` : ""}` }),
        el("div", { class: "parts" }, epoch.partitions.map((part) => el("span", { class: `join-part ${part.status}`, dataset: { partition: String(part.partition) }, title: STATUS_TEXT[part.status], text: `p${part.partition}: ${STATUS_TEXT[part.status]}` }))),
        waiting));
    }
  }
  if (blocks.length === 0) blocks.push(el("p", { class: "empty", text: "No open epoch: every closed epoch is committed." }));
  fill(container, blocks);
}

export function drawWorkers(container, snapshot) {
  if (snapshot.workers.length === 0) {
    fill(container, el("p", { class: "empty", text: snapshot.mode === "attach" ? "No worker has registered yet." : "No worker registered (workers register on a Redis buffer)." }));
    return;
  }
  const rows = snapshot.workers.map((worker) => {
    const pending = worker.pending.filter((p) => p.count > 0);
    const claims = worker.claimedBy.map((claim) => `claimed by ${claim.worker}: ${claim.count} on ${claim.vertex}/${claim.partition} at ${time(claim.at)}`);
    const status = worker.alive ? "alive" : worker.stopped ? "stopped" : "dead";
    const text = { alive: "alive", stopped: `stopped at ${time(worker.lastBeatAt)}`, dead: `dead — no heartbeat since ${time(worker.lastBeatAt)}` }[status];
    return el("tr", { class: `worker ${status}`, dataset: { worker: worker.id } },
      el("td", { text: worker.id }),
      el("td", { class: `text ${{ alive: "ok", stopped: "", dead: "bad" }[status]}`, text }),
      el("td", { class: "text", text: worker.vertices.map((v) => `${v.name} ×${v.partitions}`).join(", ") }),
      el("td", { class: "text", text: `${worker.host} pid ${worker.pid}` }),
      el("td", { class: "text", text: worker.version }),
      el("td", { class: "text", text: worker.startedAt ? time(worker.startedAt) : "–" }),
      el("td", { class: "text pending", text: pending.length === 0 ? "none" : pending.map((p) => `${p.count} pending on ${p.vertex}/${p.partition}`).join("; ") }),
      el("td", { class: "text claims", text: claims.join("; ") || "–" }));
  });
  fill(container, el("table", {},
    el("thead", {}, el("tr", {}, ["worker", "state", "runs", "where", "version", "since", "pending entries", "claimed"].map((h) => el("th", { class: "text", text: h })))),
    el("tbody", {}, rows)));
}

export function drawDeadLetters(container, snapshot) {
  const dlq = snapshot.deadLetters;
  const parts = [];
  if (dlq.error) parts.push(el("p", { class: "bad", text: dlq.error }));
  const counts = Object.entries(dlq.perVertex);
  const fallbacks = snapshot.vertices.flatMap((v) => v.partitions.map((p) => [v.name, p.fallback])).filter(([, n]) => n > 0);
  if (counts.length === 0 && dlq.newest.length === 0 && fallbacks.length === 0) {
    fill(container, el("p", { class: "empty", text: "No dead letters." }));
    return;
  }
  if (counts.length > 0) parts.push(el("p", { class: "dlq-counts" }, counts.map(([vertex, n]) => el("span", { class: "pill", text: `${vertex}: ${count(n)}` }))));
  if (dlq.newest.length > 0) {
    parts.push(el("table", {},
      el("thead", {}, el("tr", {}, ["vertex", "message id", "partition", "epoch", "attempts", "reason", "at"].map((h) => el("th", { class: "text", text: h })))),
      el("tbody", {}, dlq.newest.map((letter) => el("tr", { class: "dead-letter" },
        el("td", { text: letter.vertex }), el("td", { class: "text", text: letter.id }), el("td", { text: letter.partition ?? "–" }), el("td", { text: letter.epoch ?? "–" }),
        el("td", { text: letter.attempts ?? "–" }), el("td", { class: "text", text: letter.reason }), el("td", { class: "text", text: time(letter.enqueuedAt) }))))));
  }
  parts.push(el("p", { class: "hint", text: "Read-only: replay with 'weir dlq replay <spec>'." }));
  fill(container, parts);
}
