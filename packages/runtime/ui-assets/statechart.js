// An actor's statechart drawn from its machine's definition (GET /api/machines, the same JSON as
// `weir machines --json`): nested state boxes, parallel regions dashed, each state's transitions
// listed as "event → target", the live state highlighted, and the actor's newest events.
import { el, time } from "./dom.js";

function targetName(target) {
  return target.replace(/^#/, "").split(".").slice(1).join(".") || target;
}

function transitions(node) {
  const items = [];
  for (const [event, list] of Object.entries(node.on ?? {})) {
    if (event.startsWith("xstate.")) continue;
    const targets = new Set(list.flatMap((t) => (t.target ?? []).map(targetName)));
    items.push(el("li", { text: `${event}${targets.size ? ` → ${[...targets].join(" | ")}` : ""}` }));
  }
  for (const [delay, list] of Object.entries(node.after ?? {})) {
    const targets = new Set([].concat(list).flatMap((t) => (t.target ?? []).map(targetName)));
    items.push(el("li", { text: `after ${delay}${targets.size ? ` → ${[...targets].join(" | ")}` : ""}` }));
  }
  return items.length ? el("ul", { class: "transitions" }, items) : null;
}

function stateBox(node, active, isRoot) {
  const children = Object.values(node.states ?? {}).sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  const classes = ["state", node.type, active.has(node.id) ? "active" : ""].filter(Boolean).join(" ");
  return el("div", { class: classes, dataset: { id: node.id } },
    isRoot ? null : el("div", { class: "name", text: node.key }),
    isRoot ? null : transitions(node),
    children.length ? el("div", { class: "children" }, children.map((child) => stateBox(child, active, false))) : null);
}

export function drawStatechart(actor, definition) {
  const active = new Set(actor.active);
  const events = actor.events.slice(-8).reverse();
  return el("div", { class: "statechart", dataset: { path: actor.path, machine: actor.machine } },
    el("h3", { text: `${actor.path} (${actor.machine})${actor.worker ? ` · ${actor.worker}` : ""}` }),
    el("div", { class: "current-state", text: `state: ${actor.state}` }),
    definition ? stateBox(definition, active, true) : el("p", { class: "empty", text: `no definition for machine '${actor.machine}'` }),
    events.length
      ? el("ol", { class: "events" }, events.map((event) => el("li", { text: `${time(event.at)} ${event.type}` })))
      : el("p", { class: "hint", text: actor.worker ? "events are recorded by workers started with --ui" : "no event yet" }));
}
