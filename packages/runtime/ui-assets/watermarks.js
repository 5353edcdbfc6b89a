// The event-time view (issue #13): per vertex and partition, its watermark, how far behind now,
// what holds it back (writer <upstream>/<p> and processor) and since when, and a reduce vertex's
// open windows. Source: `snapshot.eventTime` (docs/dashboard.md).
import { el, fill, duration } from "./dom.js";

const END_OF_TIME = Number.MAX_SAFE_INTEGER;

function stamp(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms >= END_OF_TIME) return "end (every writer ended)";
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

// Times of day (UTC) where the date adds nothing: window bounds, "held since".
function clock(ms) {
  return ms >= END_OF_TIME ? "end" : new Date(ms).toISOString().slice(11, 23);
}

// "since" is a time on the holder's clock (Redis, in attach mode), so it is shown as a time, not an age.
function heldByText(holder) {
  if (!holder) return "–";
  if (holder.watermark === null) return `${holder.writer}: no mark yet`;
  const since = holder.since === null ? "" : ` since ${clock(holder.since)}`;
  return `${holder.writer}${holder.processor ? ` @ ${holder.processor}` : ""}: ${clock(holder.watermark)}${since}${holder.live ? "" : " (dead)"}`;
}

function windowsText(p) {
  if (p.openWindows === null) return "–";
  const listed = p.windows.map((w) => `[${w.keys.join(",")}] ${clock(w.start)}–${clock(w.end)}`);
  return `${p.openWindows}${listed.length ? `: ${listed.join("; ")}${p.openWindows > listed.length ? "; …" : ""}` : ""}`;
}

export function drawWatermarks(container, snapshot) {
  const views = snapshot.eventTime ?? [];
  if (views.length === 0) {
    fill(container, el("p", { class: "empty", text: "No event time in this pipeline (no groupBy, no spec.watermark)." }));
    return;
  }
  const rows = views.flatMap((view) => view.partitions.map((p) =>
    el("tr", { class: "watermark", dataset: { vertex: view.vertex, partition: String(p.partition) } },
      el("td", { text: view.vertex }),
      el("td", { text: String(p.partition) }),
      el("td", { class: `text wm${p.watermark === null ? " warn" : ""}`, text: p.watermark === null ? "none yet" : stamp(p.watermark) }),
      el("td", { class: "lag", text: p.lagMs === null ? "–" : duration(p.lagMs) }),
      el("td", { class: "text held-by", text: heldByText(p.heldBy) }),
      el("td", { class: "text open-windows", text: windowsText(p) }),
      el("td", { class: "text", text: p.reader ?? (snapshot.mode === "run" ? "this process" : "–") }))));
  fill(container, el("table", {},
    el("thead", {}, el("tr", {}, ["vertex", "p", "watermark (UTC)", "lag", "held back by (writer @ processor, since)", "open windows", "reader"].map((h) => el("th", { class: "text", text: h })))),
    el("tbody", {}, rows)));
}
