import type { AnyStateMachine } from "xstate";
import { UsageError } from "../../errors.js";
import { weirMachines } from "../../observability/trace-replay.js";
import { parseCommandArgs } from "../args.js";
import type { Command } from "../command.js";
import { catalog } from "./catalog.js";

/** The format tag of `weir machines --json`. */
export const machinesFormat = "weir.machines/v1";

interface StateNodeDefinitionLike {
  readonly id: string;
  readonly states: Readonly<Record<string, StateNodeDefinitionLike>>;
  readonly on: Readonly<Record<string, unknown>>;
}

/**
 * `weir machines [<id>...] [--json]`: Weir's machines — supervisor, partition reader,
 * batcher, sink session, a reduce vertex's window keeper — as XState definitions (`machine.toJSON()`), for the Stately
 * visualizer or any tool; without `--json`, a short description of each.
 */
export const machinesCommand: Command = {
  ...catalog.machines,
  help: [
    `Machines: ${Object.keys(weirMachines).join(", ")}.`,
    "Options:",
    `  --json   print { format: "${machinesFormat}", machines: [{ id, definition }] } with each machine's`,
    "           XState definition (machine.toJSON()); with ids, only those machines",
  ].join("\n"),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs("machines", argv, { json: { type: "boolean", default: false } });
    const unknown = positionals.filter((id) => weirMachines[id] === undefined);
    if (unknown.length > 0) throw new UsageError(`machines: no machine '${unknown.join("', '")}'; the machines are ${Object.keys(weirMachines).join(", ")}`);
    const ids = positionals.length === 0 ? Object.keys(weirMachines) : positionals;
    const machines = ids.map((id) => weirMachines[id]!);
    if (values.json) {
      const out = { format: machinesFormat, machines: machines.map((machine) => ({ id: machine.id, definition: machine.toJSON() })) };
      io.stdout.write(`${JSON.stringify(out)}\n`);
      return 0;
    }
    for (const machine of machines) io.stdout.write(describeMachine(machine));
    return 0;
  },
};

function describeMachine(machine: AnyStateMachine): string {
  const root = machine.toJSON() as unknown as StateNodeDefinitionLike;
  const events = new Set<string>();
  // `running { collecting, joining, committing { sinkCommit, … } }, …, stopped`: the state tree on one line.
  const tree = (node: StateNodeDefinitionLike): string => {
    for (const type of Object.keys(node.on)) if (!type.startsWith("xstate.")) events.add(type);
    return Object.entries(node.states)
      .map(([key, child]) => (Object.keys(child.states).length === 0 ? (tree(child), key) : `${key} { ${tree(child)} }`))
      .join(", ");
  };
  const states = tree(root);
  const actors = Object.keys(machine.implementations.actors);
  return [
    `${machine.id}`,
    `  states:  ${states}`,
    `  takes:   ${[...events].sort().join(", ")}`,
    `  actors:  ${actors.join(", ") || "(none)"}`,
    "",
  ].join("\n");
}
