/**
 * Per-vertex counters for the run summary and the progress line. I/O adapters count what they
 * read, write and ack; the supervisor's events add how messages ended.
 */
export interface VertexCounts {
  read: number;
  written: number;
  acked: number;
  ok: number;
  fallback: number;
  dropped: number;
  /**
   * Messages not written downstream because they already were: ids the buffer's dedup window
   * held (a redelivery), or writes refused because another worker finished this vertex.
   */
  deduped: number;
  protocolErrors: number;
  /**
   * Times a message of the vertex was answered `retryLater` and parked: it left its epoch and
   * comes back after its delay (counted again then, as `ok`, `fallback` or `dropped`).
   */
  retriedLater: number;
  /**
   * Under `ordered`: times a message was held back behind an earlier failed message of its key
   * (not sent in that attempt, sent again in a later one), once per attempt that held it back.
   * No outcome: the message is counted again when it ends (`ok`, `fallback` or `dropped`).
   */
  heldBack: number;
  /**
   * Messages a reduce vertex met behind its watermark (minus `allowedLateness`), issue #13: sent
   * to the fallback with reason `late: …` (and counted in `fallback` too).
   */
  late: number;
}

export function emptyCounts(): VertexCounts {
  return { read: 0, written: 0, acked: 0, ok: 0, fallback: 0, dropped: 0, deduped: 0, protocolErrors: 0, retriedLater: 0, heldBack: 0, late: 0 };
}

/**
 * What `weir run --json` prints and `pipeline.start()` resolves with. `completed`: every source
 * ended and everything was committed; `drained`: stopped by `drain()` (SIGINT/SIGTERM), whatever
 * was read was committed, the rest was not read; `failed`: `reason` says why.
 */
export interface RunSummary {
  readonly status: "completed" | "drained" | "failed";
  readonly pipeline: string;
  readonly durationMs: number;
  readonly reason?: string;
  readonly vertices: Readonly<Record<string, Readonly<VertexCounts>>>;
}
