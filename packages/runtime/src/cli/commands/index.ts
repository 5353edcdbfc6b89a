import type { Command, LazyCommand } from "../command.js";
import { catalog } from "./catalog.js";

/** A command whose module is imported only when it runs (or shows its help). */
const lazy = (entry: (typeof catalog)[keyof typeof catalog], load: () => Promise<Command>): LazyCommand => ({ ...entry, load });

/** Every `weir` subcommand, in the order `weir --help` lists them. Add new ones here and in catalog.ts. */
export const commands: readonly LazyCommand[] = [
  lazy(catalog.run, async () => (await import("./run.js")).runCommand),
  lazy(catalog.validate, async () => (await import("./validate.js")).validateCommand),
  lazy(catalog.schema, async () => (await import("./schema.js")).schemaCommand),
  lazy(catalog.trace, async () => (await import("./trace.js")).traceCommand),
  lazy(catalog.machines, async () => (await import("./machines.js")).machinesCommand),
  lazy(catalog.dlq, async () => (await import("./dlq.js")).dlqCommand),
  lazy(catalog.reset, async () => (await import("./reset.js")).resetCommand),
  lazy(catalog.ui, async () => (await import("./ui.js")).uiCommand),
  lazy(catalog.why, async () => (await import("./why.js")).whyCommand),
];
