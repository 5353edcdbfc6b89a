// The pipeline graph: vertices in columns by depth (sources left), edges with their tag
// conditions and partition counts, and each vertex's input partitions as clickable squares.
import { svg, rate } from "./dom.js";

const COLUMN = 260;
const BOX_W = 190;
const ROW = 120;

function depths(graph) {
  const depth = new Map(graph.vertices.map((v) => [v.name, 0]));
  for (let pass = 0; pass < graph.vertices.length; pass++) {
    for (const edge of graph.edges) depth.set(edge.to, Math.max(depth.get(edge.to), depth.get(edge.from) + 1));
  }
  return depth;
}

function layout(graph) {
  const depth = depths(graph);
  const rows = new Map();
  const at = new Map();
  for (const vertex of graph.vertices) {
    const column = depth.get(vertex.name);
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    at.set(vertex.name, { x: 20 + column * COLUMN, y: 20 + row * ROW });
  }
  return at;
}

/** Rates per vertex: summed over its partitions and the workers that run it. */
function vertexRates(vertices) {
  const out = new Map();
  for (const view of vertices) {
    const sum = out.get(view.name) ?? { read: 0, ack: 0 };
    for (const p of view.partitions) { sum.read += p.readRate; sum.ack += p.ackRate; }
    out.set(view.name, sum);
  }
  return out;
}

function fullPartitions(vertices) {
  const full = new Set();
  for (const view of vertices) for (const p of view.partitions) if (p.buffer?.isFull) full.add(`${view.name}/${p.partition}`);
  return full;
}

export function drawGraph(root, snapshot, selected, onSelect) {
  const { graph } = snapshot;
  const at = layout(graph);
  const rates = vertexRates(snapshot.vertices);
  const full = fullPartitions(snapshot.vertices);
  const width = Math.max(...[...at.values()].map((p) => p.x)) + BOX_W + 40;
  const height = Math.max(...[...at.values()].map((p) => p.y)) + ROW;
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  root.setAttribute("height", String(height));
  const nodes = [svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "currentColor" })))];
  for (const edge of graph.edges) {
    const from = at.get(edge.from), to = at.get(edge.to);
    const x1 = from.x + BOX_W, y1 = from.y + 35, x2 = to.x, y2 = to.y + 35;
    const mid = (x1 + x2) / 2;
    const label = `${edge.conditions ? `tags ${edge.conditions.operator} [${edge.conditions.values.join(", ")}]` : "all"} · ×${edge.partitions}`;
    nodes.push(svg("g", { class: "edge-group", "data-from": edge.from, "data-to": edge.to },
      svg("path", { class: "edge", d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`, "marker-end": "url(#arrow)" }),
      svg("text", { class: "edge-label", x: mid, y: (y1 + y2) / 2 - 6, "text-anchor": "middle", text: label })));
  }
  for (const vertex of graph.vertices) {
    const { x, y } = at.get(vertex.name);
    const r = rates.get(vertex.name) ?? { read: 0, ack: 0 };
    const parts = [];
    const size = Math.min(22, Math.floor((BOX_W - 16) / Math.max(1, vertex.partitions)) - 3);
    if (vertex.kind !== "source") {
      for (let p = 0; p < vertex.partitions; p++) {
        const px = x + 8 + p * (size + 3), py = y + 60;
        const key = `${vertex.name}/${p}`;
        parts.push(svg("rect", { class: `partition${full.has(key) ? " full" : ""}${selected === key ? " selected" : ""}`, x: px, y: py, width: size, height: size, "data-vertex": vertex.name, "data-partition": p, onclick: () => onSelect(vertex.name, p) },
          svg("title", { text: `${vertex.name} partition ${p}${full.has(key) ? " (full)" : ""}` })));
        if (size >= 14) parts.push(svg("text", { class: "partition-label", x: px + size / 2, y: py + size / 2 + 4, "text-anchor": "middle", text: String(p) }));
      }
    } else {
      parts.push(svg("rect", { class: `partition${selected === `${vertex.name}/0` ? " selected" : ""}`, x: x + 8, y: y + 60, width: 22, height: 22, "data-vertex": vertex.name, "data-partition": 0, onclick: () => onSelect(vertex.name, 0) }, svg("title", { text: `${vertex.name}: its source actors` })));
    }
    nodes.push(svg("g", { class: "vertex", "data-vertex": vertex.name },
      svg("rect", { class: "box", x, y, width: BOX_W, height: 92 }),
      svg("text", { x: x + 8, y: y + 18, text: `${vertex.name}` }),
      svg("text", { class: "sub", x: x + 8, y: y + 34, text: `${vertex.kind} · ${vertex.runs}${vertex.onFull ? ` · ${vertex.onFull}` : ""}` }),
      svg("text", { class: "sub vertex-rate", x: x + 8, y: y + 50, text: `${rate(r.read)} read/s · ${rate(r.ack)} ack/s` }),
      parts));
  }
  root.replaceChildren(...nodes);
}
