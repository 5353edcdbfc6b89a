import type { Command } from "../command.js";
import { dlqCommand } from "./dlq.js";
import { machinesCommand } from "./machines.js";
import { resetCommand } from "./reset.js";
import { runCommand } from "./run.js";
import { schemaCommand } from "./schema.js";
import { traceCommand } from "./trace.js";
import { uiCommand } from "./ui.js";
import { validateCommand } from "./validate.js";

/** Every `weir` subcommand, in the order `weir --help` lists them. Add new ones here. */
export const commands: readonly Command[] = [runCommand, validateCommand, schemaCommand, traceCommand, machinesCommand, dlqCommand, resetCommand, uiCommand];
