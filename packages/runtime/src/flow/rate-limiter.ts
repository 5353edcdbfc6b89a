/**
 * One vertex's rate limit in one process: its partition readers ask it for tokens before each
 * read, and read at most what it grants (rate-limited-read.ts).
 *
 *   reader ──acquire(max)──▶ store.take ──granted──▶ read ≤ granted ──short read──▶ release(rest)
 *                              │ none: sleep until a chunk is due (abortable), take again,
 *                              ▼ until the read's own timeout: then an empty read
 *
 * A reader without tokens waits at most its read timeout and then returns an empty read, like
 * an idle partition: so a drain is heard within one read timeout, the epoch closes on time for
 * the other partitions (their EOTs never wait on this one), and nothing spins.
 * Throttling is logged when it starts and when it ends (no wait for 5 s), never per read.
 */
import type { Logger } from "../observability/logger.js";
import { monotonicNow } from "../time/monotonic-clock.js";
import type { AdaptiveCeiling } from "./rate-adaptive.js";
import type { TokenStore } from "./rate-store.js";

/** A wait shorter than this is stretched to it: a take per millisecond would only load Redis. */
const MIN_NAP_MS = 2;
/** The least a throttled read waits for tokens before it returns empty (a read timeout of 0). */
const MIN_WAIT_MS = 20;
/** Throttling has ended once no read waited for this long. */
const QUIET_MS = 5_000;

export interface RateLimiterOptions {
  readonly vertex: string;
  readonly store: TokenStore;
  /** The rate before the first take (the spec's max), for the metric. */
  readonly initialRate: number;
  readonly adaptive?: AdaptiveCeiling;
  readonly logger: Logger;
  /** For tests: ms on a clock that never steps back. */
  readonly clock?: () => number;
  /** For tests: waits `ms`, rejecting when `signal` aborts. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** For tests: 0 ≤ random < 1, spreading readers that wake together. */
  readonly random?: () => number;
}

export interface RateLimitStatus {
  /** The rate in force, messages per second (the ramp's, capped by the adaptive ceiling). */
  readonly limit: number;
  /** Time readers spent waiting for tokens, summed over partitions, ms. */
  readonly waitedMs: number;
  /** Reads that waited for tokens. */
  readonly throttledReads: number;
}

export class RateLimiter {
  private rate: number;
  private waited = 0;
  private throttledReads = 0;
  private throttledSince: number | undefined;
  private lastWait = 0;
  private waitedWhileThrottled = 0;
  private readonly clock: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: RateLimiterOptions) {
    this.rate = options.initialRate;
    this.clock = options.clock ?? monotonicNow;
    this.sleep = options.sleep ?? abortableSleep;
    this.random = options.random ?? Math.random;
  }

  /**
   * Up to `want` tokens — and at most the rate's worth over `timeoutMs` — waiting for them at most
   * `timeoutMs` (at least {@link MIN_WAIT_MS}); 0 when none came in time.
   *
   * @throws the abort reason when `signal` aborts while waiting.
   */
  async acquire(want: number, { timeoutMs, signal }: { readonly timeoutMs: number; readonly signal: AbortSignal }): Promise<number> {
    if (want <= 0) return 0;
    const started = this.clock();
    const window = Math.max(timeoutMs, MIN_WAIT_MS);
    const deadline = started + window;
    // At most what the rate allows in one read timeout: a reader that then blocks on an empty
    // partition holds that many tokens for its timeout, not a whole batch the busy ones need.
    const ask = Math.min(want, Math.max(1, Math.ceil((this.rate * window) / 1000)));
    let waited = false;
    for (;;) {
      const taken = await this.options.store.take(ask, this.options.adaptive?.ceiling());
      this.rate = taken.rate;
      const now = this.clock();
      if (taken.granted > 0 || now >= deadline) {
        if (waited) this.recordWait(now - started, now);
        else this.checkQuiet(now);
        return taken.granted;
      }
      waited = true;
      // Readers that wake together would take in turn: a little jitter spreads them.
      const nap = Math.min(Math.max(MIN_NAP_MS, taken.waitMs * (1 + 0.2 * this.random())), deadline - now);
      await this.sleep(nap, signal);
    }
  }

  /**
   * Gives back tokens a read was granted and did not use. Never throws: tokens that could not be
   * given back only leave the vertex a little below its limit for a moment (logged).
   */
  async release(count: number): Promise<void> {
    if (count <= 0) return;
    try {
      await this.options.store.adjust(count, this.options.adaptive?.ceiling());
    } catch (error) {
      this.options.logger.warn("rate limit: unused tokens could not be given back", { vertex: this.options.vertex, count, error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** Counts messages read without asking first (a restarted worker's own pending entries). */
  async debit(count: number): Promise<void> {
    if (count > 0) await this.options.store.adjust(-count, this.options.adaptive?.ceiling());
  }

  status(): RateLimitStatus {
    // The ceiling may have dropped since the last take reported the rate.
    const ceiling = this.options.adaptive?.ceiling();
    return { limit: ceiling === undefined ? this.rate : Math.min(this.rate, ceiling), waitedMs: this.waited, throttledReads: this.throttledReads };
  }

  /** Logs the end of a throttling still under way (the run is over). */
  close(): void {
    if (this.throttledSince !== undefined) this.endThrottling(this.clock());
  }

  private recordWait(ms: number, now: number): void {
    this.waited += ms;
    this.throttledReads += 1;
    this.lastWait = now;
    if (this.throttledSince === undefined) {
      this.throttledSince = now;
      this.waitedWhileThrottled = 0;
      this.options.logger.info("rate limit: throttling reads", { vertex: this.options.vertex, limit: round(this.rate) });
    }
    this.waitedWhileThrottled += ms;
  }

  private checkQuiet(now: number): void {
    if (this.throttledSince !== undefined && now - this.lastWait >= QUIET_MS) this.endThrottling(now);
  }

  private endThrottling(now: number): void {
    this.options.logger.info("rate limit: throttling ended", {
      vertex: this.options.vertex,
      limit: round(this.rate),
      throttledForMs: Math.round(this.lastWait - this.throttledSince!),
      waitedMs: Math.round(this.waitedWhileThrottled),
      quietForMs: Math.round(now - this.lastWait),
    });
    this.throttledSince = undefined;
  }
}

function round(rate: number): number {
  return Math.round(rate * 100) / 100;
}

/** setTimeout as a promise that rejects with the signal's reason on abort (and clears its timer). */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
