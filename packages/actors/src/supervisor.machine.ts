/**
 * One supervisor per vertex: spawns a reader, a batcher and a sink session per partition,
 * opens and closes epochs, joins the partitions' EOT states and commits.
 *
 *   running (one region)                                 draining (parallel)
 *     collecting ──close──▶ joining ──join──▶ committing  ├─ intake: awaitingReaders ─▶ closingFinal ─▶ flushed
 *         ▲                   ▲                │ sinkCommit → acking          └─ commits: idle ─▶ joining ─▶ committing
 *         │                   │                │ (acking at once without          (resumes the commit in flight)
 *         └───────────────────┴── last ack ────┘  a sink commit)                       │ nothing left in flight
 *   running ──drain / last reader draining──▶ draining                                 ▼
 *   reader.failed ──────────────────────────────────────────────────────────▶ stopping
 *                                                      every child final ──▶ stopped | failed
 *
 * While running the supervisor rests where its commits are: `collecting` (no epoch closed and
 * uncommitted), `joining` (closed epochs wait for their EOTs), `committing`; the open epoch fills
 * beside them in every one of these states (closes are transitions of `running` itself). A close
 * held back by `maxInflightEpochs` is a flag (`closeRequested`), closed in the step of the commit
 * that frees its slot.
 *
 * Takes: `batcher.filling`, `batcher.full`, `sink.epochDone`, `sink.protocolError`, `reader.acked`,
 * `reader.draining`, `reader.readFailed`, `reader.failed`, `pipeline.drain`, and its children's
 * `xstate.done.actor.*` (while stopping).
 * Emits (for the runtime): `epochCommitted` (with `watermarks`, partition → committed watermark, when
 * the pipeline has event time), `protocolError`, `readFailed`.
 * Keeps: an epoch's offsets are acked only after every partition of it reported its final
 * results (I1); the join waits only on partitions of that epoch, each of which sends an EOT —
 * with count 0 when idle — so no partition can hold the join without data (I3); at most
 * `maxInflightEpochs` epochs are closed and uncommitted at once.
 * Cost (issue 12, DESIGN §7): while running, every decision is taken in the step of the event
 * that makes it — a close in `batcher.full`'s or the timer's, the join in `sink.epochDone`'s, the
 * commit in `reader.acked`'s (with a close it held back), the drain in the last `reader.draining`'s —
 * so no eventless check runs after each step. `running` is not parallel (session 9): a parallel
 * state costs every step ~3.8 KB and ~2 µs (docs/design-notes.md).
 */
import { and, assertEvent, assign, cancel, emit, enqueueActions, fromPromise, raise, sendTo, setup, type AnyActorRef, type DoneActorEvent } from "xstate";
import { batcherMachine } from "./batcher.machine.js";
import {
  actorIds,
  type BatcherFillingEvent,
  type BatcherFullEvent,
  type CloseEpochEvent,
  type CommitEvent,
  type EpochDoneEvent,
  type ProtocolErrorEvent,
  type ReaderAckedEvent,
  type ReaderDrainingEvent,
  type ReaderFailedEvent,
  type ReaderReadFailedEvent,
} from "./epoch-protocol.js";
import { partitionReaderMachine } from "./partition-reader.machine.js";
import { sinkSessionMachine } from "./sink-session.machine.js";
import { windowKeeperMachine } from "./window-keeper.machine.js";
import {
  afterClose,
  afterCommit,
  canCloseFinal,
  closeOf,
  closablePartitions,
  closesAfterCommit,
  completesCommit,
  finalClosePartitions,
  fullCloses,
  hasClosableEpoch,
  hasJoinedBesides,
  initialParts,
  initialTotals,
  joinedUnit,
  joinsWith,
  requestedClose,
  timeoutCloses,
  timeoutRequests,
  unitTallies,
  updatePart,
  withAck,
  withEpochDone,
} from "./supervisor.logic.js";
import type {
  CommitEpochInput,
  CommitUnit,
  SupervisorContext,
  SupervisorEmitted,
  SupervisorInput,
  SupervisorOutput,
} from "./supervisor.types.js";

export interface EpochTimeoutEvent {
  readonly type: "supervisor.epochTimeout";
  /** The partition whose timer fired; null for the vertex-wide timer of aligned mode. */
  readonly partition: number | null;
}
export interface PipelineDrainEvent {
  readonly type: "pipeline.drain";
}

type SupervisorEvent =
  | BatcherFillingEvent
  | BatcherFullEvent
  | EpochDoneEvent
  | ProtocolErrorEvent
  | ReaderAckedEvent
  | ReaderDrainingEvent
  | ReaderReadFailedEvent
  | ReaderFailedEvent
  | EpochTimeoutEvent
  | PipelineDrainEvent
  | DoneActorEvent;

type EventOf<T extends SupervisorEvent["type"]> = Extract<SupervisorEvent, { readonly type: T }>;

/**
 * XState's `assertEvent` for the hot guards and actions: the same narrowing and error, without the
 * array and closure `assertEvent` allocates per call (issue 12: every byte of a step is garbage).
 */
function expectEvent<T extends SupervisorEvent["type"]>(event: SupervisorEvent, type: T, other?: T): asserts event is EventOf<T> {
  if (event.type !== type && event.type !== other) throw new Error(`Expected event ${JSON.stringify(event)} to have type matching "${type}"`);
}

const childId = {
  reader: (p: number) => `reader-${p}`,
  batcher: (p: number) => `batcher-${p}`,
  sinkSession: (p: number) => `sink-${p}`,
  windowKeeper: (p: number) => `windows-${p}`,
};
const timerId = (partition: number | null) => (partition === null ? "epochTimer" : `epochTimer-${partition}`);
/** Aligned mode's vertex-wide epoch timer fired. */
const vertexTimeout: EpochTimeoutEvent = { type: "supervisor.epochTimeout", partition: null };

/** Whether `id` names a child spawned per partition (`reader-<p>`, `batcher-<p>`, `sink-<p>`). */
function isPartitionChildId(context: SupervisorContext, id: string): boolean {
  const dash = id.indexOf("-");
  const kind = id.slice(0, dash);
  if (kind !== "reader" && kind !== "batcher" && kind !== "sink") return false;
  const partition = Number(id.slice(dash + 1));
  return Number.isInteger(partition) && partition >= 0 && partition < context.partitions && id === `${kind}-${partition}`;
}

/** How many children are spawned per partition: a reader, a batcher and a sink session. */
const CHILDREN_PER_PARTITION = 3;

function commitOf(unit: CommitUnit): CommitEvent {
  return { type: "supervisor.commit", epoch: unit.epoch };
}

/** What the runtime is told when `unit` commits (its logs and metrics). */
function epochCommitted(vertex: string, unit: CommitUnit): Extract<SupervisorEmitted, { type: "epochCommitted" }> {
  return {
    type: "epochCommitted",
    vertex,
    epoch: unit.epoch,
    partitions: unit.partitions,
    tallies: unitTallies(unit),
    ...(unit.watermarks === undefined ? {} : { watermarks: unit.watermarks }),
  };
}

function committingUnit(context: SupervisorContext): CommitUnit {
  const unit = context.units.find((candidate) => candidate.epoch === context.committing);
  if (unit === undefined) throw new Error(`supervisor of ${context.vertex} is not committing an epoch`);
  return unit;
}

/**
 * The commit in flight: the sink's optional commit(epoch), then the readers' acks. `ackedOn` decides
 * the `reader.acked`s: the last ack of the epoch commits it, and the next joined epoch (if any)
 * starts at once; the others (most) are decided by one guard (`commitsNothing`).
 */
const committingState = <const Acked>(ackedOn: Acked) =>
  ({
    initial: "sinkCommit",
    on: { "reader.acked": ackedOn },
    states: {
      // The sink's optional commit(epoch): transactional sinks make the epoch durable here.
      sinkCommit: {
        invoke: {
          src: "commitEpoch",
          input: ({ context }: { context: SupervisorContext }): CommitEpochInput => {
            const unit = committingUnit(context);
            return { vertex: context.vertex, epoch: unit.epoch, partitions: unit.partitions };
          },
          onDone: { target: "acking", actions: "sendCommitToReaders" },
          onError: { target: "sinkCommitBackoff" },
        },
      },
      sinkCommitBackoff: { after: { commitRetryBackoff: "sinkCommit" } },
      acking: {},
    },
  }) as const;

/**
 * `committing`'s `reader.acked` rows: most acks commit nothing; the last of the epoch commits it and
 * goes on to the next joined epoch, to `joining` when other epochs are closed (`closedBesides`), else
 * to `rest`. `closeHeld`: a close held back by `maxInflightEpochs` happens in the committing step
 * (while running; the drain's final close is its own).
 */
const ackedRows = <const ClosedBesides extends string, const Rest extends string>(closeHeld: boolean, closedBesides: ClosedBesides, rest: Rest) =>
  [
    { guard: "commitsNothing", actions: "recordAck" },
    { guard: "acksNextAtOnce", target: "committing.acking", reenter: true, actions: { type: "commitOnAck", params: { next: "acking", closeHeld } } },
    { guard: "hasJoinedBesides", target: "committing", reenter: true, actions: { type: "commitOnAck", params: { next: "sinkCommit", closeHeld } } },
    { guard: closedBesides, target: "joining", actions: { type: "commitOnAck", params: { next: "none", closeHeld } } },
    { target: rest, actions: { type: "commitOnAck", params: { next: "none", closeHeld } } },
  ] as const;

/**
 * Closed epochs wait for every partition's `sink.epochDone`; the one that completes a join takes
 * the supervisor to `committing` in its own step, with the bookkeeping on the same transition
 * (issue 12: each step is a microstep, with its snapshot and context copy). Most join nothing: one
 * guard decides them (each guard evaluated costs).
 */
const joinOnEpochDone = [
  { guard: "joinsNothing", actions: "recordEpochDone" },
  // A sink without commit(epoch): straight to the readers' acks, no commitEpoch actor.
  { guard: "hasNoSinkCommit", target: "committing.acking", actions: { type: "recordJoin", params: { sendCommit: true } } },
  { target: "committing", actions: { type: "recordJoin", params: { sendCommit: false } } },
] as const;

/**
 * While draining the commit region runs beside the drain's own (parallel): epochs keep committing.
 * Its `idle` keeps eventless checks: the drain enters the region afresh, so it resumes an epoch
 * already being committed where it was (never selecting it again and sending its readers a second
 * commit), and the final close is eventless.
 */
const drainingCommits = {
  initial: "idle",
  // While the region runs its `on` shadows the root's (the stopping supervisor still records both).
  on: {
    "sink.epochDone": { actions: "recordEpochDone" },
    "reader.acked": { actions: "recordAck" },
  },
  states: {
    idle: {
      always: [
        { guard: "isCommitSent", target: "committing.acking" },
        // Interrupted in the sink's commit(epoch): it runs again, so it must be idempotent per epoch.
        { guard: "isCommitSelected", target: "committing" },
        { guard: "hasClosedEpochs", target: "joining" },
      ],
    },
    joining: { on: { "sink.epochDone": joinOnEpochDone } },
    committing: committingState(ackedRows(false, "hasEpochsClosedBesides", "idle")),
  },
} as const;

/** Which partitions a `closeEpochs` closes (see its callers). */
type CloseKind = "final" | "requested";

/** Calls `send` with each closed epoch's CLOSE_EPOCH for its batchers and `cancel` with its timer. */
function forEachClose(
  commitMode: SupervisorContext["commitMode"],
  closed: readonly CommitUnit[],
  send: (action: CachedAction) => void,
): void {
  for (const unit of closed) {
    for (const p of unit.partitions) send(closeBatcher(p));
    send(cancelTimer(commitMode === "aligned" ? null : unit.partitions[0]!));
  }
}

/** The last closed epoch holding partition `p`: the one a close just recorded. */
function lastEpochOf(units: readonly CommitUnit[], p: number): number {
  for (let i = units.length - 1; i >= 0; i -= 1) if (units[i]!.partitions.includes(p)) return units[i]!.epoch;
  throw new Error(`no closed epoch holds partition ${p}`);
}

/**
 * The sends of a step's fan-out — CLOSE_EPOCH to partition `p`'s batcher, COMMIT to its reader — and
 * the timers' cancels, built once per partition and reused by every step (issue 12:
 * `enqueue.sendTo` builds a new action, a function given eight properties, per send). Their events
 * come from the context as the step's assign leaves it, so each step enqueues them after its assign.
 */
const makeCloseBatcher = (p: number) =>
  sendTo<SupervisorContext, SupervisorEvent, undefined, AnyActorRef, SupervisorEvent>(childId.batcher(p), ({ context }: { context: SupervisorContext }): CloseEpochEvent => ({
    type: "supervisor.closeEpoch",
    epoch: lastEpochOf(context.units, p),
  }));
const makeCommitReader = (p: number) =>
  sendTo<SupervisorContext, SupervisorEvent, undefined, AnyActorRef, SupervisorEvent>(childId.reader(p), ({ context }: { context: SupervisorContext }): CommitEvent => ({
    type: "supervisor.commit",
    epoch: context.committing!,
  }));
const makeCancelTimer = (partition: number | null) => cancel<SupervisorContext, SupervisorEvent, undefined, SupervisorEvent>(timerId(partition));
type CachedAction = ReturnType<typeof makeCloseBatcher> | ReturnType<typeof makeCommitReader> | ReturnType<typeof makeCancelTimer>;

/** `make` memoized by its key: each action is built on first use and reused by every step after. */
function builtOnce<K, A>(make: (key: K) => A): (key: K) => A {
  const built = new Map<K, A>();
  return (key) => {
    let action = built.get(key);
    if (action === undefined) built.set(key, (action = make(key)));
    return action;
  };
}
const closeBatcher = builtOnce(makeCloseBatcher);
const commitReader = builtOnce(makeCommitReader);
const cancelTimer = builtOnce(makeCancelTimer);

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    input: {} as SupervisorInput,
    events: {} as SupervisorEvent,
    emitted: {} as SupervisorEmitted,
    output: {} as SupervisorOutput,
  },
  actors: {
    partitionReader: partitionReaderMachine,
    batcher: batcherMachine,
    sinkSession: sinkSessionMachine,
    /** A reduce vertex's window keepers (only spawned with `windowKeepers`); the runtime provides their `windowIo`. */
    windowKeeper: windowKeeperMachine,
    /** The sink's `commit(epoch)`; resolves at once for sinks without one. */
    commitEpoch: fromPromise<void, CommitEpochInput>(async () => undefined),
  },
  delays: {
    readTimeout: ({ context }) => context.settings.readTimeoutMs,
    commitRetryBackoff: () => 100,
  },
  guards: {
    fullCloses: ({ context, event }) => {
      expectEvent(event, "batcher.full");
      return fullCloses(context, event.partition);
    },
    timeoutCloses: ({ context, event }) => {
      expectEvent(event, "supervisor.epochTimeout");
      return timeoutCloses(context, event.partition);
    },
    timeoutRequests: ({ context, event }) => {
      expectEvent(event, "supervisor.epochTimeout");
      return timeoutRequests(context, event.partition);
    },
    startsVertexTimer: ({ context }) => context.commitMode === "aligned" && !context.parts.some((part) => part.hasData),
    isPartitionMode: ({ context }) => context.commitMode === "partition",
    drainsLastReader: ({ context, event }) => {
      expectEvent(event, "reader.draining");
      return context.parts.every((part, p) => part.draining || p === event.partition);
    },
    hasClosedEpochs: ({ context }) => context.units.length > 0,
    isCommitSelected: ({ context }) => context.committing !== null,
    isCommitSent: ({ context }) => context.committing !== null && context.commitSent,
    joinsNothing: ({ context, event }) => {
      expectEvent(event, "sink.epochDone");
      return !joinsWith(context.units, event.epoch, event.partition);
    },
    hasNoSinkCommit: ({ context }) => !context.sinkCommit,
    commitsNothing: ({ context, event }) => {
      expectEvent(event, "reader.acked");
      return !completesCommit(context, event.epoch, event.partition);
    },
    // The guards below follow `commitsNothing` in a list: the ack completes the commit of `event.epoch`.
    hasEpochsClosedBesides: ({ context }) => context.units.length > 1,
    // While running: a close held back for this commit's slot is closed in the commit's step.
    hasEpochsClosedOrClosingBesides: ({ context, event }) => {
      expectEvent(event, "reader.acked");
      return context.units.length > 1 || closesAfterCommit(context, event.epoch);
    },
    hasJoinedBesides: ({ context, event }) => {
      expectEvent(event, "reader.acked");
      return hasJoinedBesides(context.units, event.epoch);
    },
    acksNextAtOnce: ({ context, event }) => {
      expectEvent(event, "reader.acked");
      return !context.sinkCommit && hasJoinedBesides(context.units, event.epoch);
    },
    allReadersDraining: ({ context }) => context.parts.every((part) => part.draining),
    isFlushed: ({ context }) => context.units.length === 0,
    canCloseFinal: ({ context }) => canCloseFinal(context),
    // Only the partition children count: the invoked `commitEpoch` finishes with a done event too.
    isPartitionChildDone: ({ context, event }) => {
      assertEvent(event, "xstate.done.actor.*");
      // Checked by name, not against a list built per event: the commitEpoch actor's done event
      // comes here once per epoch.
      return isPartitionChildId(context, event.actorId) && !context.finishedChildren.includes(event.actorId);
    },
    // A count, not a lookup of every id: `finishedChildren` holds distinct partition children only
    // (isPartitionChildDone), and this eventless guard runs on every event while stopping — with
    // 1024 partitions a lookup made it cubic in the partitions (#10 item 13).
    allChildrenFinished: ({ context }) => context.finishedChildren.length >= CHILDREN_PER_PARTITION * context.partitions,
    hasFailure: ({ context }) => context.failure !== null,
  },
  actions: {
    spawnPartitions: enqueueActions(({ context, enqueue }) => {
      const { vertex } = context;
      const { readBatchSize, retry, resultTimeoutMs, seed, windowKeepers, readTimeoutMs, startWithPending } = context.settings;
      // Sessions and batchers first: a reader hands its first batch over as soon as it reads.
      for (let p = 0; p < context.partitions; p += 1) {
        enqueue.spawnChild("sinkSession", {
          id: childId.sinkSession(p),
          systemId: actorIds.sinkSession(vertex, p),
          input: {
            vertex,
            partition: p,
            retry,
            resultTimeoutMs,
            seed: seed + p,
          },
        });
        enqueue.spawnChild("batcher", {
          id: childId.batcher(p),
          systemId: actorIds.batcher(vertex, p),
          input: { vertex, partition: p, readBatchSize },
        });
        // Not counted among the partition children: it has no final state, and stops with the supervisor.
        if (windowKeepers) {
          enqueue.spawnChild("windowKeeper", {
            id: childId.windowKeeper(p),
            systemId: actorIds.windowKeeper(vertex, p),
            input: { vertex, partition: p },
          });
        }
      }
      for (let p = 0; p < context.partitions; p += 1) {
        enqueue.spawnChild("partitionReader", {
          id: childId.reader(p),
          systemId: actorIds.reader(vertex, p),
          input: {
            vertex,
            partition: p,
            readBatchSize,
            readTimeoutMs,
            startWithPending,
          },
        });
      }
    }),
    // Aligned: the epoch's first news starts the vertex-wide timer (one assign, one raise: no
    // `enqueueActions`, which builds its helpers on every call).
    recordFilling: assign(({ context, event }) => {
      expectEvent(event, "batcher.filling");
      return { parts: updatePart(context.parts, event.partition, { hasData: true }) };
    }),
    startVertexTimer: raise(vertexTimeout, { id: timerId(null), delay: ({ context }) => context.settings.readTimeoutMs }),
    // Partition mode: each partition's first news starts its own timer (an id per partition).
    markFillingPartition: enqueueActions(({ context, event, enqueue }) => {
      expectEvent(event, "batcher.filling");
      enqueue.assign({ parts: updatePart(context.parts, event.partition, { hasData: true }) });
      const timeout: EpochTimeoutEvent = { type: "supervisor.epochTimeout", partition: event.partition };
      enqueue.raise(timeout, { delay: context.settings.readTimeoutMs, id: timerId(event.partition) });
    }),
    requestCloseOnFull: assign({
      parts: ({ context, event }) => {
        expectEvent(event, "batcher.full");
        // A batcher whose first hand-over filled the epoch reports `full` without `filling`.
        return updatePart(context.parts, event.partition, { closeRequested: true, hasData: true });
      },
    }),
    requestCloseOnTimeout: assign({
      parts: ({ context, event }) => {
        expectEvent(event, "supervisor.epochTimeout");
        if (event.partition !== null) return updatePart(context.parts, event.partition, { closeRequested: true });
        return context.parts.map((part) => ({ ...part, closeRequested: part.closeRequested || part.hasData }));
      },
    }),
    /**
     * Sends CLOSE_EPOCH to the batchers of the closing partitions, records the closed epochs (one
     * per partition in partition mode) and cancels their timers, in one context update. Which close:
     * `final` — the drain's last close (see `finalClosePartitions`); `requested` — the
     * `batcher.full` or `supervisor.epochTimeout` that closes the epoch in its own step
     * (`fullCloses`, `timeoutCloses`; the request is not recorded first, the close would clear it).
     * A close held back by `maxInflightEpochs` happens in the step of the commit that frees its
     * slot (`commitOnAck`).
     */
    closeEpochs: enqueueActions(({ context, event, enqueue }, { kind }: { kind: CloseKind }) => {
      let closing: readonly number[];
      if (kind === "requested") {
        expectEvent(event, "batcher.full", "supervisor.epochTimeout");
        closing = requestedClose(context, event.partition);
      } else {
        closing = finalClosePartitions(context);
      }
      if (closing.length === 0) return;
      const { closed, update } = closeOf(context, closing);
      enqueue.assign(update);
      forEachClose(context.commitMode, closed, enqueue);
    }),
    // The function form: the object form lists its keys on every call.
    recordEpochDone: assign(({ context, event }) => {
      expectEvent(event, "sink.epochDone");
      return { units: withEpochDone(context.units, event.epoch, event.partition, event.tallies) };
    }),
    recordAck: assign(({ context, event }) => {
      expectEvent(event, "reader.acked");
      return { units: withAck(context.units, event.epoch, event.partition, event.count, event.watermark) };
    }),
    /**
     * The `sink.epochDone` that completes a join: recorded, the joined epoch selected and (without
     * a sink commit) its commit sent to its readers, in one context update (issue 12: each assign
     * copies the context and rebuilds the snapshot).
     */
    recordJoin: enqueueActions(({ context, event, enqueue }, { sendCommit }: { sendCommit: boolean }) => {
      expectEvent(event, "sink.epochDone");
      const units = withEpochDone(context.units, event.epoch, event.partition, event.tallies);
      const joined = joinedUnit(units)!;
      if (!sendCommit) {
        enqueue.assign({ units, committing: joined.epoch });
        return;
      }
      enqueue.assign({ units, committing: joined.epoch, commitSent: true });
      for (const p of joined.partitions) enqueue(commitReader(p));
    }),
    /**
     * The `reader.acked` that completes the epoch being committed: the ack recorded, the epoch
     * committed (`epochCommitted`), with `next` the next joined epoch selected — its commit sent
     * at once (`acking`, no sink commit) or left to `commitEpoch` (`sinkCommit`) — and with
     * `closeHeld` (running) the closes that waited for the slot this commit frees. One context update.
     */
    commitOnAck: enqueueActions(
      ({ context, event, enqueue }, { next, closeHeld }: { next: "acking" | "sinkCommit" | "none"; closeHeld: boolean }) => {
        expectEvent(event, "reader.acked");
        const units = withAck(context.units, event.epoch, event.partition, event.count, event.watermark);
        const unit = units.find((candidate) => candidate.epoch === context.committing)!;
        enqueue.emit(epochCommitted(context.vertex, unit));
        let after: Partial<SupervisorContext> = afterCommit(context, units, unit);
        const joined = next === "none" ? undefined : joinedUnit(after.units!)!;
        if (joined !== undefined) after = { ...after, committing: joined.epoch, commitSent: next === "acking" };
        let closed: readonly CommitUnit[] = [];
        if (closeHeld) {
          const freed: SupervisorContext = { ...context, ...after };
          if (hasClosableEpoch(freed)) {
            const close = closeOf(freed, closablePartitions(freed));
            closed = close.closed;
            after = { ...after, ...close.update };
          }
        }
        // The sends read the context this assign leaves (the epoch committed next, the epochs closed).
        enqueue.assign(after);
        if (next === "acking") for (const p of joined!.partitions) enqueue(commitReader(p));
        forEachClose(context.commitMode, closed, enqueue);
      },
    ),
    // After the sink's commit(epoch).
    sendCommitToReaders: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ commitSent: true });
      for (const p of committingUnit(context).partitions) enqueue(commitReader(p));
    }),
    countProtocolError: enqueueActions(({ context, event, enqueue }) => {
      expectEvent(event, "sink.protocolError");
      enqueue.assign({
        totals: context.totals.map((total) =>
          total.partition === event.partition ? { ...total, protocolErrors: total.protocolErrors + 1 } : total,
        ),
      });
      enqueue.emit({
        type: "protocolError",
        vertex: context.vertex,
        partition: event.partition,
        epoch: event.epoch,
        attempt: event.attempt,
        code: event.code,
        message: event.message,
      });
    }),
    reportReadFailed: emit(({ context, event }) => {
      expectEvent(event, "reader.readFailed");
      return { type: "readFailed" as const, vertex: context.vertex, partition: event.partition, error: event.error };
    }),
    markDraining: assign({
      parts: ({ context, event }) => {
        expectEvent(event, "reader.draining");
        // The reader's own count says whether the open epoch holds its data: the final close
        // must not depend on a `batcher.filling` having arrived first.
        // A watermark no epoch carries yet counts as data: the last close takes it (issue #13).
        const hasData = context.parts[event.partition]!.hasData || event.unsealed > 0 || event.unsealedWatermark === true;
        return updatePart(context.parts, event.partition, { draining: true, hasData });
      },
    }),
    requestDrain: assign({ drainRequested: true }),
    drainReaders: enqueueActions(({ context, enqueue }) => {
      for (let p = 0; p < context.partitions; p += 1) {
        if (!context.parts[p]!.draining) enqueue.sendTo(childId.reader(p), { type: "supervisor.drain" });
      }
    }),
    cancelTimers: enqueueActions(({ context, enqueue }) => {
      enqueue(cancel(timerId(null)));
      for (let p = 0; p < context.partitions; p += 1) enqueue(cancel(timerId(p)));
    }),
    stopChildren: enqueueActions(({ context, enqueue }) => {
      for (let p = 0; p < context.partitions; p += 1) {
        enqueue.sendTo(childId.reader(p), { type: "supervisor.stop" });
        enqueue.sendTo(childId.batcher(p), { type: "supervisor.stop" });
        enqueue.sendTo(childId.sinkSession(p), { type: "supervisor.stop" });
      }
    }),
    recordChildFinished: assign({
      finishedChildren: ({ context, event }) => {
        assertEvent(event, "xstate.done.actor.*");
        return [...context.finishedChildren, event.actorId];
      },
    }),
    recordFailure: assign({
      failure: ({ event }) => {
        expectEvent(event, "reader.failed");
        return `reader of partition ${event.partition} failed: ${event.error}`;
      },
    }),
  },
}).createMachine({
  id: "supervisor",
  context: ({ input }) => ({
    vertex: input.vertex,
    partitions: input.partitions,
    commitMode: input.commitMode ?? "aligned",
    maxInflightEpochs: input.maxInflightEpochs,
    sinkCommit: input.sinkCommit ?? true,
    settings: {
      readBatchSize: input.readBatchSize,
      readTimeoutMs: input.readTimeoutMs,
      retry: input.retry,
      resultTimeoutMs: input.resultTimeoutMs,
      startWithPending: input.startWithPending ?? false,
      windowKeepers: input.windowKeepers ?? false,
      seed: input.seed ?? 1,
    },
    nextEpoch: 1,
    parts: initialParts(input.partitions),
    units: [],
    committing: null,
    commitSent: false,
    totals: initialTotals(input.partitions),
    committedEpochs: 0,
    drainRequested: false,
    failure: null,
    finishedChildren: [],
  }),
  output: ({ context }) => ({
    vertex: context.vertex,
    status: context.failure === null ? "completed" : "failed",
    reason: context.failure,
    drained: context.drainRequested,
    committedEpochs: context.committedEpochs,
    partitions: context.totals,
  }),
  initial: "running",
  entry: "spawnPartitions",
  on: {
    // Aligned: only whether the open epoch holds data matters, and its first report started the
    // timer; the others take no step.
    "batcher.filling": [
      { guard: "startsVertexTimer", actions: ["recordFilling", "startVertexTimer"] },
      { guard: "isPartitionMode", actions: "markFillingPartition" },
    ],
    "batcher.full": { actions: "requestCloseOnFull" },
    "supervisor.epochTimeout": { actions: "requestCloseOnTimeout" },
    "sink.epochDone": { actions: "recordEpochDone" },
    "sink.protocolError": { actions: "countProtocolError" },
    "reader.acked": { actions: "recordAck" },
    "reader.draining": { actions: "markDraining" },
    "reader.readFailed": { actions: "reportReadFailed" },
    "reader.failed": { target: ".stopping", actions: "recordFailure" },
    "xstate.done.actor.*": { guard: "isPartitionChildDone", actions: "recordChildFinished" },
  },
  states: {
    // One region (issue 12, session 9: a parallel state cost every step ~3.8 KB and ~2 µs): the
    // supervisor rests where its commits are — `collecting` (no epoch closed and uncommitted),
    // `joining` (closed epochs wait for their EOTs), `committing` — while the open epoch fills
    // beside them. A close held back by `maxInflightEpochs` is a flag (`closeRequested`), closed
    // in the step of the commit that frees its slot. No eventless transition: what they checked
    // after every step of every event is decided by the events that change it (DESIGN §7).
    running: {
      initial: "collecting",
      on: {
        "pipeline.drain": { target: "draining", actions: "requestDrain" },
        "reader.draining": [{ guard: "drainsLastReader", target: "draining", actions: "markDraining" }, { actions: "markDraining" }],
        // With an epoch in flight: a request either closes its epoch in its own step or waits for a commit.
        "batcher.full": [{ guard: "fullCloses", actions: { type: "closeEpochs", params: { kind: "requested" } } }, { actions: "requestCloseOnFull" }],
        "supervisor.epochTimeout": [
          { guard: "timeoutCloses", actions: { type: "closeEpochs", params: { kind: "requested" } } },
          { guard: "timeoutRequests", actions: "requestCloseOnTimeout" },
        ],
      },
      states: {
        collecting: {
          on: {
            "batcher.full": { guard: "fullCloses", target: "joining", actions: { type: "closeEpochs", params: { kind: "requested" } } },
            "supervisor.epochTimeout": { guard: "timeoutCloses", target: "joining", actions: { type: "closeEpochs", params: { kind: "requested" } } },
          },
        },
        joining: { on: { "sink.epochDone": joinOnEpochDone } },
        committing: committingState(ackedRows(true, "hasEpochsClosedOrClosingBesides", "collecting")),
      },
    },
    draining: {
      type: "parallel",
      entry: "drainReaders",
      states: {
        intake: {
          initial: "awaitingReaders",
          states: {
            awaitingReaders: { always: { guard: "allReadersDraining", target: "closingFinal" } },
            closingFinal: {
              entry: "cancelTimers",
              always: { guard: "canCloseFinal", target: "flushed", actions: { type: "closeEpochs", params: { kind: "final" } } },
            },
            flushed: { always: { guard: "isFlushed", target: "#supervisor.stopping" } },
          },
        },
        commits: drainingCommits,
      },
    },
    // Waits until every child has taken `supervisor.stop` and reached its own final state. Going
    // final at once would let XState stop the children itself: a child whose event (the last
    // `reader.acked`, say) completed the supervisor is still mid-step, and stopping it discards
    // the `supervisor.stop` queued in its mailbox, leaving it stopped in a working state.
    stopping: {
      entry: "stopChildren",
      always: [
        { guard: and(["allChildrenFinished", "hasFailure"]), target: "failed" },
        { guard: "allChildrenFinished", target: "stopped" },
      ],
    },
    stopped: { type: "final" },
    failed: { type: "final" },
  },
});
