import { UsageError } from "../../errors.js";
import { pipelineJsonSchema } from "../../spec/json-schema.js";
import { parseCommandArgs } from "../args.js";
import type { Command } from "../command.js";
import { catalog } from "./catalog.js";

/** `weir schema`: prints the spec's JSON Schema, e.g. for `# yaml-language-server: $schema=…`. */
export const schemaCommand: Command = {
  ...catalog.schema,
  help: "Save it and point your editor at it, e.g. `weir schema > weir.schema.json`.",
  async run(argv, io) {
    const { positionals } = parseCommandArgs("schema", argv, {});
    if (positionals.length > 0) throw new UsageError(`schema: takes no arguments, got '${positionals.join(" ")}'`);
    io.stdout.write(`${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`);
    return 0;
  },
};
