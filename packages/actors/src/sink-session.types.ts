import type { EpochTallies } from "./epoch-protocol.js";
import type { Message, SinkResult } from "./message.js";
import type { ProtocolErrorCode } from "./errors.js";
import type { RetryPolicy } from "./retry-policy.js";

export interface SinkSessionInput {
  readonly vertex: string;
  readonly partition: number;
  readonly retry: RetryPolicy;
  /** How long one attempt may wait for its results and end-of-results. */
  readonly resultTimeoutMs: number;
  /** Seed of the jitter generator, so replays draw the same delays. */
  readonly seed?: number;
}

/** One attempt at one epoch's messages, as the session asks its `sinkWriter` for it (`sinkWriter.write`). */
export interface SinkWriteInput {
  readonly vertex: string;
  readonly partition: number;
  readonly epoch: number;
  readonly attempt: number;
  readonly messages: readonly Message[];
}

/** What the `fallbackWriter` actor is started with. */
export interface FallbackWriteInput {
  readonly vertex: string;
  readonly partition: number;
  readonly epoch: number;
  readonly items: readonly FallbackItem[];
}
export interface FallbackItem {
  readonly message: Message;
  readonly reason: string;
  readonly attempts: number;
}

/**
 * Frames a sink adapter sends back to its session (via `sendBack`). Each names the partition,
 * epoch and attempt it answers; the session checks all three.
 */
export type SinkIoEvent =
  | { readonly type: "sinkIo.sent"; readonly partition: number; readonly epoch: number; readonly attempt: number }
  | {
      readonly type: "sinkIo.results";
      readonly partition: number;
      readonly epoch: number;
      readonly attempt: number;
      readonly results: readonly SinkResult[];
    }
  | { readonly type: "sinkIo.endOfResults"; readonly partition: number; readonly epoch: number; readonly attempt: number }
  /**
   * Every message of the attempt is `ok`, and no other result follows: the results and the
   * end-of-results of the whole attempt in one frame, with no per-message data. A sink adapter
   * sends it instead of `sinkIo.results` + `sinkIo.endOfResults` when every answer is `ok`
   * (see `fromSinkFunction`). Coming after some results of the same attempt, it is a
   * `DUPLICATE_RESULT`.
   */
  | { readonly type: "sinkIo.allOk"; readonly partition: number; readonly epoch: number; readonly attempt: number }
  | {
      readonly type: "sinkIo.crashed";
      readonly partition: number;
      readonly epoch: number;
      readonly attempt: number;
      readonly reason: string;
    };

export interface InboxEpoch {
  readonly epoch: number;
  readonly messages: readonly Message[];
  /** The EOT's count; null until the EOT arrived. */
  readonly count: number | null;
}

export interface ProtocolViolation {
  readonly code: ProtocolErrorCode;
  readonly message: string;
}

/** The epoch a session is working on. Plain data only, so snapshots serialise. */
export interface EpochWork {
  readonly epoch: number;
  readonly messages: readonly Message[];
  readonly attempt: number;
  /** The messages of the current attempt. */
  readonly sending: readonly Message[];
  /**
   * The result for `sending[i]`, by position; undefined until it arrives. Empty until the
   * attempt's first `sinkIo.results` frame (and for an attempt answered with `sinkIo.allOk`).
   */
  readonly received: ReadonlyArray<SinkResult | undefined>;
  readonly receivedCount: number;
  /** The attempt was answered with `sinkIo.allOk`: every message of `sending` is `ok`. */
  readonly allOk: boolean;
  readonly endOfResults: boolean;
  readonly violation: ProtocolViolation | null;
  /** Messages the last settled attempt left without a final result. */
  readonly unsettled: readonly Message[];
  readonly lastErrors: Readonly<Record<string, string>>;
  readonly fallbackQueue: readonly FallbackItem[];
  readonly tallies: EpochTallies;
  readonly nextDelayMs: number;
}

export interface SinkSessionContext {
  readonly vertex: string;
  readonly partition: number;
  readonly retry: RetryPolicy;
  readonly resultTimeoutMs: number;
  readonly inbox: readonly InboxEpoch[];
  readonly work: EpochWork | null;
  readonly rng: number;
  readonly completedEpochs: number;
}
