/**
 * A map UDF written in any language: an external process per partition speaking NDJSON over
 * stdio (docs/protocol.md, role `map`), as a batch map stage. The forwarder calls it once per
 * attempt; it sends the attempt to the partition's process and waits for the answer per id.
 *
 *   forwarder(p) ──messages, ctx {partition, epoch, attempt}──▶ stage ──data…, eot──▶ process(p)
 *   forwarder(p) ◀──[{ id, results } | { id, error }]── stage ◀──results…, endOfResults── process(p)
 *
 * The map's own code judges the process's frames (there is no sink session in between): a
 * message without a valid answer — early end-of-results, duplicate id, crash, timeout — fails
 * and goes down the vertex's retry path; unknown ids and frames of other attempts are logged
 * and ignored. A process that died is restarted with backoff on the next call.
 */
import type { Logger } from "../../observability/logger.js";
import type { BatchMapAnswer, MapContext, MapResult, MapStage } from "../../udf/map-function.js";
import type { Message } from "@weir/actors";
import { exchangeAttempt } from "./process-exchange.js";
import type { MapResultEntry } from "./process-frames.js";
import { ProcessWorker, type ProcessCommandOptions } from "./process-worker.js";

export interface ProcessMapOptions extends ProcessCommandOptions {
  /** Longest wait for the process's end-of-results per call, in ms (default 30 s). */
  readonly resultTimeout?: number;
}

const DEFAULT_RESULT_TIMEOUT_MS = 30_000;

/** A batch map stage backed by processes, with the `close()` that stops them. */
export type ProcessMapStage = Extract<MapStage, { kind: "batch" }> & { close(): Promise<void> };

/**
 * @example
 * const stage = createProcessMapStage("enrich", { command: ["python3", "map.py"], partitions: 2 }, logger);
 * // the forwarder calls stage.map(messages, ctx) once per attempt; at the end:
 * await stage.close();
 */
export function createProcessMapStage(vertex: string, options: ProcessMapOptions, logger: Logger): ProcessMapStage {
  const workers = new Map<number, ProcessWorker>();
  let closed = false;
  const workerFor = (partition: number): ProcessWorker => {
    let worker = workers.get(partition);
    if (worker === undefined) {
      worker = new ProcessWorker(vertex, partition, "map", options, logger);
      workers.set(partition, worker);
      if (closed) void worker.close();
    }
    return worker;
  };

  const map = async (messages: readonly Message[], context: MapContext): Promise<BatchMapAnswer[]> => {
    if (messages.length === 0) return [];
    const answers = await exchangeAttempt<MapResultEntry>(
      workerFor(context.partition),
      { epoch: context.epoch, attempt: context.attempt, messages },
      {
        partition: context.partition,
        timeoutMs: options.resultTimeout ?? DEFAULT_RESULT_TIMEOUT_MS,
        signal: context.signal,
        ...(options.onProtocolError === undefined ? {} : { onProtocolError: options.onProtocolError }),
        logger: logger.child({ vertex, partition: context.partition, role: "map" }),
      },
    );
    return messages.map((message): BatchMapAnswer => {
      const answer = answers.get(message.id)!;
      if ("error" in answer) return { id: message.id, error: answer.error };
      const entry = answer.entry;
      if ("error" in entry) return { id: message.id, error: `the map process failed it: ${entry.error}` };
      if ("status" in entry) return { id: message.id, status: "retryLater", delayMs: entry.delayMs };
      return {
        id: message.id,
        results: entry.results.map(
          (output): MapResult => ({
            value: new Uint8Array(Buffer.from(output.value, "base64")),
            ...(output.keys === undefined ? {} : { keys: output.keys }),
            ...(output.tags === undefined ? {} : { tags: output.tags }),
          }),
        ),
      };
    });
  };

  return {
    kind: "batch",
    map,
    async close() {
      closed = true;
      const results = await Promise.allSettled([...workers.values()].map((worker) => worker.close()));
      for (const result of results) {
        if (result.status === "rejected") logger.warn("process map: a process did not close cleanly", { vertex, error: String(result.reason) });
      }
    },
  };
}
