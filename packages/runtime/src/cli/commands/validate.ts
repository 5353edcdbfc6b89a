import { formatSpecIssue, SpecError, UsageError } from "../../errors.js";
import { loadSpec } from "../../spec/load-spec.js";
import { parseCommandArgs } from "../args.js";
import type { Command } from "../command.js";

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

/**
 * `weir validate <spec>...`: checks specs without running anything. Exit 0 when every spec is
 * valid, 2 when any is not (every issue of every file is printed first).
 */
export const validateCommand: Command = {
  name: "validate",
  synopsis: "<spec>...",
  summary: "Check pipeline specs and report every problem with its path",
  help: "Prints one line per valid spec, or every issue of an invalid one (path, problem, fix).\nModule, process and jsonl paths outside a spec's directory are invalid unless --allow-modules-outside.\n--no-exec: process vertices and modules are invalid (a spec you do not trust runs built-ins only).\nExit code: 0 all valid, 2 any invalid.",
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs("validate", argv, {
      "allow-modules-outside": { type: "boolean", default: false },
      "no-exec": { type: "boolean", default: false },
    });
    if (positionals.length === 0) throw new UsageError("validate: which spec? usage: weir validate <spec>...");
    let allValid = true;
    for (const file of positionals) {
      try {
        const { spec } = await loadSpec(file, { allowModulesOutside: values["allow-modules-outside"] === true, noExec: values["no-exec"] === true });
        const vertices = plural(spec.spec.vertices.length, "vertex", "vertices");
        const edges = plural(spec.spec.edges.length, "edge", "edges");
        io.stdout.write(`✓ ${spec.metadata.name}: ${vertices}, ${edges}\n`);
      } catch (error) {
        if (!(error instanceof SpecError)) throw error;
        allValid = false;
        io.stderr.write(report(file, error));
      }
    }
    return allValid ? 0 : 2;
  },
};

function report(file: string, error: SpecError): string {
  if (error.code === "SPEC_UNREADABLE") {
    return `✗ cannot read ${file}: ${error.issues.map((issue) => issue.message).join("; ")}\n`;
  }
  const lines = error.issues.map((issue) => `  ${formatSpecIssue(issue, file)}\n`);
  return `✗ ${file} is not a valid pipeline:\n${lines.join("")}`;
}
