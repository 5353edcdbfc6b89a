/**
 * `weir run`'s `--ui`, `--ui-host`, `--ui-token` turned into a {@link startRunUi} call, with the
 * notes a user reads: the URL, and the token when the dashboard listens beyond loopback.
 */
import { UsageError } from "../errors.js";
import type { Logger } from "../observability/logger.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import { isLoopback, newToken } from "./dashboard-auth.js";
import { startRunUi, type RunUi } from "./run-ui.js";

export interface RunUiFlags {
  readonly port: number | undefined;
  readonly host: string | undefined;
  readonly token: string | undefined;
  /** `--vertices a,b` as given; all vertices when undefined. */
  readonly vertices: string | undefined;
  readonly logger: Logger;
  readonly note: (line: string) => void;
}

export async function startRunUiFromFlags(spec: PipelineSpec, flags: RunUiFlags): Promise<RunUi> {
  const host = flags.host ?? "127.0.0.1";
  const token = dashboardToken(host, flags.token);
  const vertices = flags.vertices?.split(",").map((name) => name.trim()).filter((name) => name.length > 0) ?? spec.spec.vertices.map((vertex) => vertex.name);
  const runUi = await startRunUi({
    spec,
    vertices,
    logger: flags.logger,
    note: flags.note,
    ...(flags.port === undefined ? {} : { ui: { port: flags.port, host, token } }),
  });
  if (runUi.url !== undefined) {
    flags.note(`dashboard at ${runUi.url} — open it in a browser`);
    if (token !== null && flags.token === undefined) flags.note(`dashboard token: ${token} (the page asks for it)`);
  }
  return runUi;
}

/** The token the dashboard requires: none on loopback, else the given one or a fresh one. */
export function dashboardToken(host: string, given: string | undefined): string | null {
  if (given !== undefined && given.length < 16) throw new UsageError("--ui-token must be at least 16 characters: it is all that guards the dashboard off this machine");
  if (isLoopback(host)) return given ?? null;
  return given ?? newToken();
}
