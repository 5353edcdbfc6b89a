/**
 * The adaptive mode of a rate limit (`rateLimit.adaptive: { latencyTarget }`), beyond Numaflow:
 * a ceiling on the rate that follows how the vertex's sink (or udf) is doing, AIMD as TCP does.
 *
 *   every second with attempts:  failed > 1 % of the messages, or mean attempt time > target
 *                                  → ceiling × 0.7 (not below min)
 *                                otherwise → ceiling + (max − min) / 10 (not above max)
 *   a second without attempts holds the ceiling (no evidence either way)
 *
 * Each process judges the attempts it makes. With a redis store the bucket refills at the rate
 * the taking worker's ceiling allows, so the vertex's rate follows its workers' common view —
 * a sink that fails for one fails for all, in practice.
 */
import type { SinkFunction, SinkResult } from "@weir/actors";
import { sinkConnectorFromFunction, type SinkConnector } from "../connectors/sink-connector.js";
import { elapsedSince, monotonicNow } from "../time/monotonic-clock.js";

export const ADAPTIVE_INTERVAL_MS = 1_000;
const DECREASE = 0.7;
const INCREASE_STEPS = 10;
const FAILED_SHARE = 0.01;

export interface AdaptiveCeilingOptions {
  readonly max: number;
  readonly min: number;
  readonly latencyTargetMs: number;
  /** Told of each change, with why (for the log). */
  readonly onChange?: (change: { readonly from: number; readonly to: number; readonly reason: string }) => void;
  /** For tests: ms on a clock that never steps back. */
  readonly clock?: () => number;
}

/** The adaptive ceiling of one vertex in one process. */
export class AdaptiveCeiling {
  private current: number;
  private intervalStart: number;
  private messages = 0;
  private failed = 0;
  private attempts = 0;
  private attemptMs = 0;
  private readonly clock: () => number;

  constructor(private readonly options: AdaptiveCeilingOptions) {
    this.current = options.max;
    this.clock = options.clock ?? monotonicNow;
    this.intervalStart = this.clock();
  }

  /** One attempt of the sink or udf: how many messages, how many failed, how long it took. */
  observe(messages: number, failed: number, tookMs: number): void {
    this.settle();
    this.attempts += 1;
    this.messages += messages;
    this.failed += failed;
    this.attemptMs += tookMs;
  }

  /** The ceiling now, messages per second. */
  ceiling(): number {
    this.settle();
    return this.current;
  }

  private settle(): void {
    const now = this.clock();
    if (now - this.intervalStart < ADAPTIVE_INTERVAL_MS) return;
    if (this.attempts > 0) this.judge();
    // Seconds that passed without a call had no attempts: nothing to judge in them.
    this.intervalStart = now;
    this.attempts = this.messages = this.failed = this.attemptMs = 0;
  }

  private judge(): void {
    const { max, min, latencyTargetMs } = this.options;
    const meanMs = this.attemptMs / this.attempts;
    const from = this.current;
    let reason: string;
    if (this.failed > this.messages * FAILED_SHARE) {
      this.current = Math.max(min, from * DECREASE);
      reason = `${this.failed} of ${this.messages} messages failed in the last second`;
    } else if (meanMs > latencyTargetMs) {
      this.current = Math.max(min, from * DECREASE);
      reason = `attempts took ${Math.round(meanMs)} ms on average, over the latencyTarget of ${latencyTargetMs} ms`;
    } else {
      this.current = Math.min(max, from + Math.max((max - min) / INCREASE_STEPS, Number.MIN_VALUE));
      reason = "the sink recovered";
    }
    if (this.current !== from) this.options.onChange?.({ from, to: this.current, reason });
  }
}

/** `write` with each attempt's size, failures and duration told to `ceiling`. */
export function observeAttempts(write: SinkFunction, ceiling: AdaptiveCeiling): SinkFunction {
  return async (messages, context) => {
    const started = monotonicNow();
    let results: readonly SinkResult[];
    try {
      results = await write(messages, context);
    } catch (error) {
      ceiling.observe(messages.length, messages.length, elapsedSince(started));
      throw error;
    }
    const failed = Array.isArray(results) ? results.filter((result) => result?.status === "failure").length : messages.length;
    ceiling.observe(messages.length, failed, elapsedSince(started));
    return results;
  };
}

/**
 * The connector with its function observed. Only for a connector whose writer is built from its
 * `write` (sinkConnectorFromFunction); a process sink's frames are not seen (see docs/flow-control.md).
 */
export function observeConnectorAttempts(connector: SinkConnector, ceiling: AdaptiveCeiling): SinkConnector {
  if (connector.write === undefined) return connector;
  return sinkConnectorFromFunction(observeAttempts(connector.write, ceiling), {
    ...(connector.commit === undefined ? {} : { commit: connector.commit }),
    close: () => connector.close(),
  });
}
