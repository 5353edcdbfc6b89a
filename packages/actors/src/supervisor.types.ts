import type { EpochTallies } from "./epoch-protocol.js";
import type { RetryPolicy } from "./retry-policy.js";

export type CommitMode = "aligned" | "partition";

export interface SupervisorInput {
  readonly vertex: string;
  readonly partitions: number;
  /** `aligned` (default): an epoch commits when every partition is done with it. */
  readonly commitMode?: CommitMode;
  readonly readBatchSize: number;
  readonly readTimeoutMs: number;
  /** Most closed, uncommitted epochs at once (per partition in `partition` mode). */
  readonly maxInflightEpochs: number;
  readonly retry: RetryPolicy;
  readonly resultTimeoutMs: number;
  /** Readers first re-read their consumer's pending entries (production buffers). */
  readonly startWithPending?: boolean;
  /**
   * The sink has a `commit(epoch)` of its own (default true). `false` skips the `commitEpoch`
   * step of every commit: an actor per epoch that would only resolve at once.
   */
  readonly sinkCommit?: boolean;
  /**
   * A reduce vertex (issue #13): spawn a `windowKeeper` per partition (window-keeper.machine.ts),
   * the states of its window commits. Default false: other vertices spawn nothing more.
   */
  readonly windowKeepers?: boolean;
  readonly seed?: number;
}

/** What the `commitEpoch` actor is started with: the sink's optional `commit(epoch)`. */
export interface CommitEpochInput {
  readonly vertex: string;
  readonly epoch: number;
  readonly partitions: readonly number[];
}

export interface PartitionControl {
  /** The open epoch holds data for this partition. */
  readonly hasData: boolean;
  /** The open epoch should close for this partition (full, or its timer fired). */
  readonly closeRequested: boolean;
  /** The reader will hand over nothing more. */
  readonly draining: boolean;
}

/** A closed epoch on its way to commit: all partitions (aligned) or one (partition mode). */
export interface CommitUnit {
  readonly epoch: number;
  readonly partitions: readonly number[];
  readonly done: Readonly<Record<number, EpochTallies>>;
  readonly acked: Readonly<Record<number, number>>;
  /** Partition → the watermark its ack committed (issue #13); absent without event time. */
  readonly watermarks?: Readonly<Record<number, number>>;
}

export interface PartitionTotals extends EpochTallies {
  readonly partition: number;
  readonly epochs: number;
  readonly acked: number;
  readonly protocolErrors: number;
}

/**
 * What the supervisor hands its children when it spawns them (and the epoch timer's delay): read
 * once per child, so grouped out of the context's top level. Why the grouping: every `assign`
 * copies the context's top-level keys, and past ~16 of them V8 gives the copy a dictionary
 * instead of a hidden class — ~10× the cost of each copy and of each read (issue 12;
 * test/context-shape.test.ts).
 */
export interface SupervisorSettings {
  readonly readBatchSize: number;
  readonly readTimeoutMs: number;
  readonly retry: RetryPolicy;
  readonly resultTimeoutMs: number;
  readonly startWithPending: boolean;
  readonly windowKeepers: boolean;
  readonly seed: number;
}

export interface SupervisorContext {
  readonly vertex: string;
  readonly partitions: number;
  readonly commitMode: CommitMode;
  readonly maxInflightEpochs: number;
  readonly sinkCommit: boolean;
  readonly settings: SupervisorSettings;
  readonly nextEpoch: number;
  readonly parts: readonly PartitionControl[];
  readonly units: readonly CommitUnit[];
  /** The epoch being committed, if any. */
  readonly committing: number | null;
  /** `supervisor.commit` for the epoch being committed went to its readers. */
  readonly commitSent: boolean;
  readonly totals: readonly PartitionTotals[];
  readonly committedEpochs: number;
  readonly drainRequested: boolean;
  readonly failure: string | null;
  /** Children (by id) that reached their final state; the supervisor stops only after all have. */
  readonly finishedChildren: readonly string[];
}

export interface SupervisorOutput {
  readonly vertex: string;
  readonly status: "completed" | "failed";
  readonly reason: string | null;
  /**
   * It stopped because it was asked to drain (`pipeline.drain`), not (only) because its input
   * ended: the input may hold more, so this is no end of stream for what it feeds.
   */
  readonly drained: boolean;
  readonly committedEpochs: number;
  readonly partitions: readonly PartitionTotals[];
}

/** Events the supervisor emits for the runtime's logs and metrics (`actor.on(type, …)`). */
export type SupervisorEmitted =
  | {
      readonly type: "epochCommitted";
      readonly vertex: string;
      readonly epoch: number;
      readonly partitions: readonly number[];
      readonly tallies: EpochTallies;
      /** Partition → the watermark committed with this epoch (issue #13); absent without event time. */
      readonly watermarks?: Readonly<Record<number, number>>;
    }
  | {
      readonly type: "protocolError";
      readonly vertex: string;
      readonly partition: number;
      readonly epoch: number;
      readonly attempt: number;
      readonly code: string;
      readonly message: string;
    }
  | { readonly type: "readFailed"; readonly vertex: string; readonly partition: number; readonly error: string };
