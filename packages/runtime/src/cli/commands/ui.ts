import { UsageError } from "../../errors.js";
import { loadSpec } from "../../spec/load-spec.js";
import { parseCommandArgs } from "../args.js";
import type { Command } from "../command.js";
import { catalog } from "./catalog.js";
import { DEFAULT_UI_PORT } from "./run.js";

/**
 * `weir ui <spec>`: serves the dashboard of a pipeline's workers on Redis (docs/dashboard.md)
 * until SIGINT/SIGTERM. The dashboard's modules load only here and with `weir run --ui`.
 */
export const uiCommand: Command = {
  ...catalog.ui,
  help: [
    "Options:",
    `  --port <port>        listen on this port (default ${DEFAULT_UI_PORT}, 0 = any free port); the URL is printed on stderr`,
    "  --host <address>     listen on this address instead of 127.0.0.1; anywhere but loopback the page asks for a token",
    "  --token <token>      the token (default: a random one, printed on stderr)",
    "Workers register and heartbeat in Redis by themselves (every 'weir run' on a redis buffer); one missing 3 beats shows dead.",
  ].join("\n"),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs("ui", argv, { port: { type: "string" }, host: { type: "string" }, token: { type: "string" } });
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new UsageError("ui: give exactly one spec; usage: weir ui <spec> [--port <port>]");
    const portText = values.port ?? String(DEFAULT_UI_PORT);
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`ui: --port takes a port from 0 to 65535 (0 picks a free one); got '${portText}'`);
    const loaded = await loadSpec(file, { allowModulesOutside: true });
    const [{ startAttachedDashboard }, { dashboardToken }] = await Promise.all([import("../../ui/attach-dashboard.js"), import("../../ui/run-ui-flags.js")]);
    const host = values.host ?? "127.0.0.1";
    const token = dashboardToken(host, values.token);
    const dashboard = await startAttachedDashboard({ spec: loaded.spec, port, host, token });
    io.stderr.write(`weir: dashboard of '${loaded.spec.metadata.name}' at ${dashboard.server.url} — open it in a browser (Ctrl-C stops it)\n`);
    if (token !== null && values.token === undefined) io.stderr.write(`weir: dashboard token: ${token} (the page asks for it)\n`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    await dashboard.close();
    return 0;
  },
};
