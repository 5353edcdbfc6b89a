/**
 * Splits a byte stream into newline-terminated lines (NDJSON framing). Chunks may end anywhere —
 * mid-line, mid-UTF-8 sequence — so bytes are held until their `\n` arrives and only then
 * decoded. A line longer than `maxLineBytes` is never held in full: its bytes are dropped as
 * they come and `onOversize` is called once its end is seen, so a runaway writer cannot
 * exhaust memory.
 *
 *   chunk ──▶ [pending bytes] ──\n──▶ decode UTF-8 ──▶ onLine(text)
 *                  │ > maxLineBytes
 *                  ▼
 *             discarding ──\n──▶ onOversize(bytes)
 */

export interface LineSplitterOptions {
  /** Longest line kept, in bytes, without its `\n`. */
  readonly maxLineBytes: number;
  readonly onLine: (line: string) => void;
  /** A line that went past `maxLineBytes`; `bytes` is its full length. */
  readonly onOversize: (bytes: number) => void;
}

const NEWLINE = 0x0a;

export class LineSplitter {
  readonly #options: LineSplitterOptions;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes of an oversize line seen so far; > 0 while its rest is being skipped. */
  #discarding = 0;

  constructor(options: LineSplitterOptions) {
    this.#options = options;
  }

  /** Feeds the next chunk; calls back for every line it completes, in order. */
  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline < 0 ? chunk.length : newline;
      this.#take(chunk.subarray(start, end));
      if (newline < 0) return;
      this.#finishLine();
      start = newline + 1;
    }
  }

  /** The stream ended: a last line without `\n` still counts. */
  end(): void {
    if (this.#pendingBytes > 0 || this.#discarding > 0) this.#finishLine();
  }

  #take(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.#discarding > 0) {
      this.#discarding += bytes.length;
      return;
    }
    if (this.#pendingBytes + bytes.length > this.#options.maxLineBytes) {
      this.#discarding = this.#pendingBytes + bytes.length;
      this.#pending = [];
      this.#pendingBytes = 0;
      return;
    }
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
  }

  #finishLine(): void {
    if (this.#discarding > 0) {
      const bytes = this.#discarding;
      this.#discarding = 0;
      this.#options.onOversize(bytes);
      return;
    }
    const line = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    // `subarray` views share the chunk's memory; decoding copies, so nothing is retained.
    const text = line.toString("utf8");
    this.#options.onLine(text.endsWith("\r") ? text.slice(0, -1) : text);
  }
}
