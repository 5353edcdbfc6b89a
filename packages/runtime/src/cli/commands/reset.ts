import { Cluster } from "ioredis";
import { RedisConnection, type RedisClient } from "../../buffer/redis/redis-connection.js";
import { UsageError } from "../../errors.js";
import { bufferConnectionName, bufferServerTls } from "../../pipeline/buffer-factory.js";
import { pipelineBufferKeys } from "../../pipeline/pipeline-keys.js";
import { loadSpec } from "../../spec/load-spec.js";
import { parseCommandArgs } from "../args.js";
import type { Command } from "../command.js";
import { catalog } from "./catalog.js";

/**
 * `weir reset <spec> [--yes] [--force]`: deletes a pipeline's Redis buffer keys (every partition's
 * stream, dedup set and end-of-stream set, a reduce vertex's window state and watermark, the spec fingerprint and the workers hash the dashboard reads), so a bounded pipeline can run again from the start —
 * its end-of-stream markers and dedup window otherwise outlive the run. Without `--yes` it only
 * says what it would delete. It refuses while a worker of the pipeline is connected — `weir run`
 * names its connections `weir:<pipeline>:…` (`--force` deletes anyway). Dead-letter queues are
 * left alone (`weir dlq purge`).
 * Exit 0: done (or nothing to do); 1: workers still connected; 2: bad arguments, a memory buffer.
 */
export const resetCommand: Command = {
  ...catalog.reset,
  help: [
    "Deletes every partition's stream, dedup set and end-of-stream set of the pipeline's input",
    "buffers (buffer: { type: redis }), reduce vertices' window state and watermarks, and its spec",
    "fingerprint. Whatever those streams and open windows still hold is lost.",
    "Options:",
    "  --yes     delete; without it, print what would be deleted",
    "  --force   delete even while a worker of the pipeline is connected",
    "Dead-letter queues are not touched: see weir dlq purge.",
    "Exit code: 0 done, 1 workers still connected, 2 bad arguments or a memory buffer.",
  ].join("\n"),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs("reset", argv, {
      yes: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
    });
    const [file, ...rest] = positionals;
    if (file === undefined || rest.length > 0) throw new UsageError("reset: give exactly one spec; usage: weir reset <spec> [--yes] [--force]");
    const { spec } = await loadSpec(file);
    const buffer = spec.spec.buffer;
    if (buffer.type !== "redis") {
      throw new UsageError(`reset: pipeline '${spec.metadata.name}' uses the memory buffer, which ends with its 'weir run' process: there is nothing to reset`);
    }
    const keys = pipelineBufferKeys(spec);
    const tls = bufferServerTls(spec);
    const connection = new RedisConnection({
      url: buffer.url,
      cluster: buffer.cluster,
      name: `weir-reset:${spec.metadata.name}`,
      urlField: "spec.buffer.url",
      ...(tls === undefined ? {} : { tls: tls.tls }),
    });
    try {
      const client = connection.client;
      const present = (await Promise.all(keys.all.map(async (key) => ((await client.exists(key)) === 1 ? [key] : [])))).flat();
      const where = `pipeline '${spec.metadata.name}' (keyPrefix ${buffer.keyPrefix})`;
      if (present.length === 0) {
        io.stdout.write(`nothing to reset: ${where} has no keys\n`);
        return 0;
      }
      const workers = await connectedWorkers(client, bufferConnectionName(spec));
      if (workers === undefined) {
        io.stderr.write(`weir: reset: Redis refused CLIENT LIST, so whether workers of ${where} still run is unknown; make sure they are stopped\n`);
      } else if (workers.length > 0 && !values.force) {
        io.stderr.write(`weir: reset: workers of ${where} are still connected (${workers.join(", ")}); stop them first, or pass --force\n`);
        return 1;
      }
      if (!values.yes) {
        io.stdout.write(`would delete ${present.length} keys of ${where}:\n${present.map((key) => `  ${key}\n`).join("")}run again with --yes to delete them\n`);
        return 0;
      }
      // One key per command: a Redis Cluster routes each to its node.
      await Promise.all(present.map((key) => client.del(key)));
      io.stdout.write(`deleted ${present.length} keys of ${where}\n`);
      return 0;
    } finally {
      await connection.close();
    }
  },
};

/**
 * Names of the connections named `<prefix>:…` (`weir run`'s buffer connections: `:cmd`,
 * `:block-<n>`) on every node; `undefined` when Redis refuses CLIENT LIST (an ACL user without @admin).
 */
async function connectedWorkers(client: RedisClient, prefix: string): Promise<string[] | undefined> {
  const nodes = client instanceof Cluster ? client.nodes("master") : [client];
  const names = new Set<string>();
  try {
    for (const node of nodes) {
      const list = (await node.client("LIST")) as string;
      for (const line of list.split("\n")) {
        const name = /(?:^| )name=(\S*)/.exec(line)?.[1];
        if (name !== undefined && name.startsWith(`${prefix}:`)) names.add(name);
      }
    }
  } catch {
    return undefined;
  }
  return [...names].sort();
}
