/**
 * End-to-end latency samples as a histogram of whole milliseconds, instead of one array slot per
 * message sorted at the end (issue 12: the scenario's own bookkeeping was 4.5 % of the memory
 * scenario's CPU, and it is in every figure, the floor's included).
 *
 * Every scenario's samples are differences of two `Date.now()` readings, so they are whole
 * milliseconds: counting them in 1 ms bins loses nothing, and `quantile` answers exactly what
 * sorting every sample would. A sample that is not a whole number in `[0, BINS)` (a clock step,
 * an hour-long stall, a fraction from another clock) is kept as it is, beside the bins.
 */

/** Whole milliseconds counted in bins: 0 … 65,535 ms (256 KiB of counts). */
const BINS = 65_536;

export class LatencyHistogram {
  private readonly bins = new Uint32Array(BINS);
  /** Samples outside the bins, kept exactly. */
  private readonly outside: number[] = [];
  private total = 0;

  get count(): number {
    return this.total;
  }

  record(ms: number): void {
    this.total += 1;
    if (ms >= 0 && ms < BINS && Math.floor(ms) === ms) this.bins[ms]! += 1;
    else this.outside.push(ms);
  }

  /**
   * The sample at rank `floor(q × count)` (the last one for q = 1) of all samples in ascending
   * order — what `sorted[Math.min(count - 1, Math.floor(q * count))]` gives — or undefined
   * without samples.
   */
  quantile(q: number): number | undefined {
    if (this.total === 0) return undefined;
    const rank = Math.min(this.total - 1, Math.floor(q * this.total));
    const outside = this.outside.sort((a, b) => a - b);
    let seen = 0;
    let j = 0;
    for (let ms = 0; ms < BINS; ms += 1) {
      for (; j < outside.length && outside[j]! < ms; j += 1, seen += 1) if (seen === rank) return outside[j];
      const count = this.bins[ms]!;
      if (seen + count > rank) return ms;
      seen += count;
    }
    for (; j < outside.length; j += 1, seen += 1) if (seen === rank) return outside[j];
    return undefined;
  }
}
