import { BullmqError } from "../../connectors/bullmq/bullmq-error.js";
import { DeadLetterQueue, deadLetterQueuesOf, type DeadLetter, type DeadLetterQueueRef } from "../../connectors/bullmq/dead-letter-queue.js";
import { replayDeadLetters, type FailedReplay, type ReplayedLetter } from "../../connectors/bullmq/dead-letter-replay.js";
import { tlsFor } from "../../buffer/redis/server-tls.js";
import { UsageError } from "../../errors.js";
import { bufferServerTls } from "../../pipeline/buffer-factory.js";
import type { PipelineSpec } from "../../spec/pipeline-spec.js";
import { loadSpec } from "../../spec/load-spec.js";
import { didYouMean } from "../../spec/suggest.js";
import { parseCommandArgs } from "../args.js";
import type { CliIO, Command } from "../command.js";

const SUBCOMMANDS = ["list", "replay", "purge"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const USAGE = "usage: weir dlq list|replay|purge <spec> [--vertex <v>] [--ids <a,b>] [--json]";

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

/**
 * `weir dlq list|replay|purge <spec>`: the dead letters of a pipeline's `fallback: { bullmq }`
 * queues. `list` shows them; `replay` writes them back into the input buffer of the vertex they
 * failed in (Redis buffers only) and removes each job once written; `purge` removes them.
 * Exit 0: done; 1: some dead letters could not be replayed or removed, or `--ids` named ids not
 * found; 2: bad arguments or spec (no such vertex, no bullmq fallback, replay on a memory buffer).
 */
export const dlqCommand: Command = {
  name: "dlq",
  synopsis: "list|replay|purge <spec> [--vertex <v>] [--ids <a,b>] [--json]",
  summary: "List, replay or purge the dead letters of a pipeline's bullmq fallback queues",
  help: [
    "Subcommands:",
    "  list <spec>     print the dead letters: vertex[partition], message id, attempts, when, reason",
    "  replay <spec>   write them back into the input buffer of the vertex they failed in, then remove",
    "                  each job (needs buffer: { type: redis }); a replayed message's id is",
    "                  <id>~replay-<time> with header x-weir-replay-of: <id>. After a bounded run",
    "                  has completed, the next `weir run <spec>` processes them (and only them) and",
    "                  ends; for a udf vertex, the vertices downstream of it are reopened until then",
    "  purge <spec>    remove them",
    "Options:",
    "  --vertex <v>    only the dead letters of vertex <v>",
    "  --ids <a,b>     only these message ids (or job ids)",
    "  --json          one JSON line per dead letter (list), or a one-line JSON summary (replay, purge)",
    "Exit code: 0 done, 1 some dead letters failed or ids were not found, 2 bad arguments or spec.",
  ].join("\n"),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs("dlq", argv, {
      vertex: { type: "string" },
      ids: { type: "string" },
      json: { type: "boolean", default: false },
    });
    const [sub, file, ...rest] = positionals;
    if (sub === undefined) throw new UsageError(`dlq: which subcommand? ${USAGE}`);
    if (!isSubcommand(sub)) {
      const suggestion = didYouMean(sub, SUBCOMMANDS);
      throw new UsageError(`dlq: unknown subcommand '${sub}'${suggestion === undefined ? "" : ` (${suggestion})`}; ${USAGE}`);
    }
    if (file === undefined || rest.length > 0) throw new UsageError(`dlq ${sub}: give exactly one spec; ${USAGE}`);
    const ids = values.ids === undefined ? undefined : new Set(values.ids.split(",").map((id) => id.trim()).filter((id) => id.length > 0));
    if (ids !== undefined && ids.size === 0) throw new UsageError(`dlq ${sub}: --ids needs at least one id, e.g. --ids in-0-1,in-0-2`);

    const { spec } = await loadSpec(file);
    const refs = queuesFor(spec, values.vertex, sub);
    if (sub === "replay" && spec.spec.buffer.type !== "redis") {
      throw new UsageError(
        `dlq replay: pipeline '${spec.metadata.name}' uses the memory buffer, which lives inside its 'weir run' process; replay needs buffer: { type: redis, url: … } so messages can be written where the pipeline reads them`,
      );
    }
    const context: Context = { spec, io, json: values.json, ...(values.vertex === undefined ? {} : { vertex: values.vertex }), ...(ids === undefined ? {} : { ids }) };
    let ok = true;
    const found = new Set<string>();
    // A queue on the redis buffer's server uses its TLS settings (buffer.tls), like `weir run`.
    const serverTls = bufferServerTls(spec);
    for (const named of refs) {
      const tls = tlsFor(named.url, serverTls);
      const ref = tls === undefined ? named : { ...named, tls };
      const queue = DeadLetterQueue.open(ref);
      try {
        const letters = await queue.list({
          vertices: new Set(values.vertex === undefined ? ref.vertices : [values.vertex]),
          ...(ids === undefined ? {} : { ids }),
        });
        for (const letter of letters) found.add(letter.message.id).add(letter.jobId);
        if (sub === "list") list(ref, letters, context);
        else if (sub === "purge") ok = (await purge(queue, letters, context)) && ok;
        else ok = (await replay(queue, letters, context)) && ok;
      } finally {
        await queue.close();
      }
    }
    const missing = [...(ids ?? [])].filter((id) => !found.has(id));
    if (missing.length > 0) {
      io.stderr.write(`weir: dlq ${sub}: no dead letter with id ${missing.map((id) => `'${id}'`).join(", ")}\n`);
      ok = false;
    }
    return ok ? 0 : 1;
  },
};

interface Context {
  readonly spec: PipelineSpec;
  readonly io: CliIO;
  readonly json: boolean;
  readonly vertex?: string;
  readonly ids?: ReadonlySet<string>;
}

function isSubcommand(value: string): value is Subcommand {
  return (SUBCOMMANDS as readonly string[]).includes(value);
}

/** The queues to look at; a user error (exit 2) when there are none to look at. */
function queuesFor(spec: PipelineSpec, vertex: string | undefined, sub: Subcommand): DeadLetterQueueRef[] {
  const names = spec.spec.vertices.map((candidate) => candidate.name);
  if (vertex !== undefined && !names.includes(vertex)) {
    const suggestion = didYouMean(vertex, names);
    throw new UsageError(`dlq ${sub}: no vertex '${vertex}' in pipeline '${spec.metadata.name}'${suggestion === undefined ? "" : ` (${suggestion})`}; vertices are: ${names.join(", ")}`);
  }
  const refs = deadLetterQueuesOf(spec, vertex);
  if (refs.length === 0) {
    const subject = vertex === undefined ? `pipeline '${spec.metadata.name}' has no vertex` : `vertex '${vertex}' has no fallback`;
    throw new UsageError(`dlq ${sub}: ${subject} with a bullmq dead-letter queue; add fallback: { bullmq: { queue: <name> } } to a udf or sink vertex`);
  }
  return refs;
}

function list(ref: DeadLetterQueueRef, letters: readonly DeadLetter[], { io, json }: Context): void {
  if (json) {
    for (const letter of letters) io.stdout.write(`${JSON.stringify(toJson(letter))}\n`);
    return;
  }
  io.stdout.write(`queue ${ref.queue}: ${letters.length === 0 ? "no dead letters" : plural(letters.length, "dead letter", "dead letters")}\n`);
  for (const letter of letters) {
    const where = `${letter.vertex ?? "?"}[${letter.partition ?? "?"}]`;
    const attempts = letter.attempts === undefined ? "" : `, ${plural(letter.attempts, "attempt", "attempts")}`;
    const state = letter.state === "waiting" ? "" : `, ${letter.state}`;
    io.stdout.write(`  ${where} ${letter.message.id} (${new Date(letter.enqueuedAt).toISOString()}${attempts}${state}): ${letter.reason ?? "no reason recorded"}\n`);
  }
}

async function purge(queue: DeadLetterQueue, letters: readonly DeadLetter[], { io, json }: Context): Promise<boolean> {
  const held: DeadLetter[] = [];
  let removed = 0;
  for (const letter of letters) {
    if (await queue.remove(letter)) removed++;
    else held.push(letter);
  }
  for (const letter of held) io.stderr.write(`✗ ${letter.message.id}: job ${letter.jobId} is held by a consumer (${letter.state}) and was not removed\n`);
  if (json) io.stdout.write(`${JSON.stringify({ queue: queue.ref.queue, purged: removed, failed: held.map((letter) => letter.message.id) })}\n`);
  else io.stdout.write(`queue ${queue.ref.queue}: purged ${plural(removed, "dead letter", "dead letters")}\n`);
  return held.length === 0;
}

async function replay(queue: DeadLetterQueue, letters: readonly DeadLetter[], { spec, io, json }: Context): Promise<boolean> {
  let report: { replayed: readonly ReplayedLetter[]; failed: readonly FailedReplay[] };
  try {
    report = await replayDeadLetters(spec, queue, letters);
  } catch (error) {
    if (error instanceof BullmqError && error.code === "DLQ_REPLAY_UNSUPPORTED") throw new UsageError(`dlq replay: ${error.message}`, { cause: error });
    throw error;
  }
  for (const failure of report.failed) io.stderr.write(`✗ ${failure.id} (${failure.vertex ?? "?"}): ${failure.error}\n`);
  if (json) {
    io.stdout.write(`${JSON.stringify({ queue: queue.ref.queue, replayed: report.replayed, failed: report.failed })}\n`);
  } else {
    const byVertex = new Map<string, number>();
    for (const letter of report.replayed) byVertex.set(letter.vertex, (byVertex.get(letter.vertex) ?? 0) + 1);
    const detail = byVertex.size === 0 ? "" : ` (${[...byVertex].map(([vertex, count]) => `${vertex}: ${count}`).join(", ")})`;
    io.stdout.write(`queue ${queue.ref.queue}: replayed ${plural(report.replayed.length, "dead letter", "dead letters")} into their vertices' input buffers${detail}\n`);
  }
  return report.failed.length === 0;
}

/** One dead letter as a JSON line: the message (value in base64) and why it failed. */
function toJson(letter: DeadLetter): Record<string, unknown> {
  return {
    queue: letter.queue,
    jobId: letter.jobId,
    id: letter.message.id,
    vertex: letter.vertex ?? null,
    partition: letter.partition ?? null,
    epoch: letter.epoch ?? null,
    attempts: letter.attempts ?? null,
    reason: letter.reason ?? null,
    state: letter.state,
    enqueuedAt: letter.enqueuedAt,
    keys: letter.message.keys,
    eventTime: letter.message.eventTime,
    headers: letter.message.headers,
    value: Buffer.from(letter.message.value).toString("base64"),
  };
}
