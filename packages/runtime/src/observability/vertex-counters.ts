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
}

export function emptyCounts(): VertexCounts {
  return { read: 0, written: 0, acked: 0, ok: 0, fallback: 0, dropped: 0, deduped: 0, protocolErrors: 0 };
}

/** What `weir run --json` prints and `pipeline.start()` resolves with. */
export interface RunSummary {
  readonly status: "completed" | "failed";
  readonly pipeline: string;
  readonly durationMs: number;
  readonly reason?: string;
  readonly vertices: Readonly<Record<string, Readonly<VertexCounts>>>;
}
