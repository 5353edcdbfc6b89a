import { UsageError } from "../../errors.js";
import { usesEventTime } from "../../pipeline/uses-event-time.js";
import type { PipelineSpec } from "../../spec/pipeline-spec.js";
import { loadSpec } from "../../spec/load-spec.js";
import { didYouMean } from "../../spec/suggest.js";
import { parseCommandArgs } from "../args.js";
import type { Command } from "../command.js";
import { catalog } from "./catalog.js";

const USAGE = "usage: weir why <spec> --vertex <v> [--json]";

/**
 * `weir why <spec> --vertex v`: on a Redis deployment, what holds vertex v's watermark back — per
 * input partition, its watermark and lag, the upstream writer and processor with the lowest mark
 * and since when — and a reduce vertex's open windows, all read from Redis (ui/redis-event-time.ts).
 * The memory buffer lives inside its `weir run` process: there, `weir run <spec> --ui` shows the same.
 * Exit 0: reported; 1: Redis could not be read; 2: bad arguments, no event time, or a memory buffer.
 */
export const whyCommand: Command = {
  ...catalog.why,
  help: [
    "Options:",
    "  --vertex <v>   the vertex to explain (required)",
    "  --json         the whole report as one JSON object (docs/dashboard.md, 'weir why')",
    "Per input partition: the watermark its reader holds and how far it is behind now, the writer",
    "(<upstream vertex>/<partition>) and processor (worker) whose mark is lowest, and since when; a",
    "processor marked 'dead' stopped marking. A reduce vertex also shows its committed watermark and",
    "open windows. Needs buffer: { type: redis } (a memory buffer: watch 'weir run <spec> --ui').",
    "Exit code: 0 reported, 1 Redis could not be read, 2 bad arguments or spec.",
  ].join("\n"),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs("why", argv, { vertex: { type: "string" }, json: { type: "boolean", default: false } });
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new UsageError(`why: give exactly one spec; ${USAGE}`);
    if (values.vertex === undefined) throw new UsageError(`why: which vertex? ${USAGE}`);
    const { spec } = await loadSpec(file, { allowModulesOutside: true });
    checkVertex(spec, values.vertex);
    const { explainVertex } = await import("../why-report.js");
    return explainVertex(spec, values.vertex, { json: values.json, io });
  },
};

/** A user error (exit 2) for anything `weir why` cannot explain, saying what to do instead. */
function checkVertex(spec: PipelineSpec, vertex: string): void {
  const names = spec.spec.vertices.map((candidate) => candidate.name);
  if (!names.includes(vertex)) {
    const suggestion = didYouMean(vertex, names);
    throw new UsageError(`why: no vertex '${vertex}' in pipeline '${spec.metadata.name}'${suggestion === undefined ? "" : ` (${suggestion})`}; vertices are: ${names.join(", ")}`);
  }
  if (!usesEventTime(spec)) {
    throw new UsageError(`why: pipeline '${spec.metadata.name}' has no event time (no vertex with groupBy, no spec.watermark), so it has no watermarks to explain`);
  }
  if (spec.spec.buffer.type !== "redis") {
    throw new UsageError(
      `why: pipeline '${spec.metadata.name}' uses the memory buffer, whose watermarks live inside its 'weir run' process; watch them there with 'weir run <spec> --ui' (the dashboard's watermark view), or deploy on buffer: { type: redis, url: … } to ask 'weir why' from anywhere`,
    );
  }
}
