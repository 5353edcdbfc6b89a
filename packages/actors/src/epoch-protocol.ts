/**
 * The frames the actors of one vertex exchange, per partition `p` and epoch `e`.
 *
 *   reader(p) ──reader.batchRead──▶ batcher(p) ──[batcher.data…], batcher.eot(p,e,count[,messages])──▶ sinkSession(p)
 *       ▲                               │                                                   │
 *       │◀────────batcher.sealed(p,e)───┘                                                   │
 *       │                                                                                    ▼
 *   supervisor ──supervisor.closeEpoch(e)──▶ batchers        sinkSession ──sink.epochDone(p,e)──▶ supervisor
 *   supervisor ──supervisor.commit(e)──▶ readers ──reader.acked(p,e)──▶ supervisor
 *
 * Every frame names its partition and epoch, so nothing can be attributed to the wrong
 * partition or batch (the information Numaflow's shared sink stream lacked, numaflow#2516).
 * Every event carries a batch, never a single message.
 */
import type { Message, ReadEntry } from "./message.js";

/** Counts one sink session reports for one epoch of one partition. */
export interface EpochTallies {
  readonly messages: number;
  readonly ok: number;
  readonly fallback: number;
  readonly dropped: number;
  /** Attempts beyond the first, over all messages of the epoch (redrives included). */
  readonly retries: number;
}

export const emptyTallies: EpochTallies = Object.freeze({
  messages: 0,
  ok: 0,
  fallback: 0,
  dropped: 0,
  retries: 0,
});

export function addTallies(a: EpochTallies, b: EpochTallies): EpochTallies {
  return {
    messages: a.messages + b.messages,
    ok: a.ok + b.ok,
    fallback: a.fallback + b.fallback,
    dropped: a.dropped + b.dropped,
    retries: a.retries + b.retries,
  };
}

// reader → batcher
export interface BatchReadEvent {
  readonly type: "reader.batchRead";
  readonly partition: number;
  readonly entries: readonly ReadEntry[];
  /**
   * The reader's watermark of the partition after this batch (issue #13), only when it advanced:
   * a batch may then hold no entries. Absent on pipelines without event time.
   */
  readonly watermark?: number;
}

// reader → supervisor
export interface ReaderDrainingEvent {
  readonly type: "reader.draining";
  readonly partition: number;
  /** `endOfStream`: the input is exhausted; `drain`: the supervisor asked. */
  readonly reason: "endOfStream" | "drain";
  /** Messages handed to the batcher that no sealed epoch holds yet: the last close must take them. */
  readonly unsealed: number;
  /** A watermark was handed to the batcher that no sealed epoch carries yet: the last close must take it. */
  readonly unsealedWatermark?: true;
}
export interface ReaderAckedEvent {
  readonly type: "reader.acked";
  readonly partition: number;
  readonly epoch: number;
  readonly count: number;
  /** The epoch's watermark, now acked (committed) for this partition. */
  readonly watermark?: number;
}
export interface ReaderReadFailedEvent {
  readonly type: "reader.readFailed";
  readonly partition: number;
  readonly error: string;
  readonly consecutiveFailures: number;
}

export interface ReaderFailedEvent {
  readonly type: "reader.failed";
  readonly partition: number;
  readonly error: string;
}

// batcher → supervisor
export interface BatcherFillingEvent {
  readonly type: "batcher.filling";
  readonly partition: number;
}
export interface BatcherFullEvent {
  readonly type: "batcher.full";
  readonly partition: number;
}

// batcher → sink session
export interface DataFrame {
  readonly type: "batcher.data";
  readonly partition: number;
  readonly epoch: number;
  readonly messages: readonly Message[];
}
export interface EotFrame {
  readonly type: "batcher.eot";
  readonly partition: number;
  readonly epoch: number;
  /** Messages of `(p, e)` over the epoch's DATA frames and this EOT's own `messages`. */
  readonly count: number;
  /**
   * The epoch's messages not sent in DATA frames before it (issue 12): the batcher sends an epoch's
   * data as one batch, so it rides on the EOT — one event and one sink-session step less per epoch.
   * DATA frames stay valid (DESIGN §2.1: "DATA… (zero or more), then EOT"); absent when the epoch
   * had no data or all of it came in DATA frames.
   */
  readonly messages?: readonly Message[];
  /**
   * The partition's watermark as of this epoch's close: the latest the reader handed over, kept
   * from earlier epochs when this one brought none (so an idle partition's count-0 EOT has it).
   */
  readonly watermark?: number;
}

// batcher → reader
export interface SealedEvent {
  readonly type: "batcher.sealed";
  readonly partition: number;
  readonly epoch: number;
  readonly offsets: readonly string[];
  /** The same watermark as the epoch's EOT: acked with the offsets. */
  readonly watermark?: number;
}

// supervisor → children
export interface CloseEpochEvent {
  readonly type: "supervisor.closeEpoch";
  readonly epoch: number;
}
export interface CommitEvent {
  readonly type: "supervisor.commit";
  readonly epoch: number;
}
export interface DrainEvent {
  readonly type: "supervisor.drain";
}
export interface StopEvent {
  readonly type: "supervisor.stop";
}

// sink session → supervisor
export interface EpochDoneEvent {
  readonly type: "sink.epochDone";
  readonly partition: number;
  readonly epoch: number;
  readonly tallies: EpochTallies;
}
export interface ProtocolErrorEvent {
  readonly type: "sink.protocolError";
  readonly partition: number;
  readonly epoch: number;
  readonly attempt: number;
  readonly code: string;
  readonly message: string;
}
export interface SinkFailureEvent {
  readonly type: "sink.failure";
  readonly partition: number;
  readonly epoch: number;
  readonly attempt: number;
  readonly failed: number;
  readonly error: string;
}

/** System ids let siblings address each other without holding references in context. */
export const actorIds = {
  reader: (vertex: string, partition: number) => `${vertex}/reader/${partition}`,
  batcher: (vertex: string, partition: number) => `${vertex}/batcher/${partition}`,
  sinkSession: (vertex: string, partition: number) => `${vertex}/sink/${partition}`,
  /** A reduce vertex's window keeper of `partition` (window-keeper.machine.ts). */
  windowKeeper: (vertex: string, partition: number) => `${vertex}/windows/${partition}`,
} as const;
