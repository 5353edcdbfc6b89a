/**
 * What `weir --help` lists about each command: name, synopsis, one-line summary. Kept apart from
 * the commands themselves so listing them loads none of their dependencies (commands/index.ts
 * loads a command only when it runs or shows its own help). Each command spreads its entry.
 */
export interface CommandSummary {
  readonly name: string;
  /** One line for `weir --help`. */
  readonly summary: string;
  /** Arguments shown after the name in usage, e.g. `<spec> [--json]`. */
  readonly synopsis?: string;
}

export const catalog = {
  run: {
    name: "run",
    synopsis: "<spec> [--json] [--log-level <level>] [--inspect[=<port>]] [--ui[=<port>]] [--trace <file>] [--metrics-port <port>] [--vertices <a,b>] [--replica <name>] [--allow-modules-outside] [--no-exec]",
    summary: "Run a pipeline; progress on a terminal, a summary at the end",
  },
  validate: { name: "validate", synopsis: "<spec>...", summary: "Check pipeline specs and report every problem with its path" },
  schema: { name: "schema", summary: "Print the JSON Schema of pipeline specs" },
  trace: { name: "trace", synopsis: "replay <file> [--json]", summary: "Replay a recorded trace and check every actor makes the same transitions" },
  machines: { name: "machines", synopsis: "[<id>...] [--json]", summary: "Export the actors' state machine definitions (for the Stately visualizer)" },
  dlq: {
    name: "dlq",
    synopsis: "list|replay|purge <spec> [--vertex <v>] [--ids <a,b>] [--json]",
    summary: "List, replay or purge the dead letters of a pipeline's bullmq fallback queues",
  },
  reset: { name: "reset", synopsis: "<spec> [--yes] [--force]", summary: "Delete a pipeline's Redis buffer keys, so a bounded pipeline can run again from the start" },
  ui: {
    name: "ui",
    synopsis: "<spec> [--port <port>] [--host <address>] [--token <token>]",
    summary: "Serve the dashboard of a running deployment on Redis (workers, partitions, epochs, dead letters)",
  },
  why: {
    name: "why",
    synopsis: "<spec> --vertex <v> [--json]",
    summary: "Say what holds a vertex's watermark back (which partition, writer, processor, since when) and which windows are open (Redis)",
  },
} as const satisfies Record<string, CommandSummary>;
