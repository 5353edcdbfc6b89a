/**
 * A reduce vertex (issue #13, DESIGN §8): a udf with `groupBy`. Its readers, batchers and sink
 * sessions are the usual trio; its "sink" absorbs each epoch's messages into per-partition window
 * state, and its ack is where time moves:
 *
 *   sink(epoch e of p)  ── absorb ──▶ keeper(p)            ok: absorbed · fallback: late or unreadable
 *   ack(e, offsets, wm) ── commit ──▶ store: ack offsets + changed windows + wm, in one atomic step
 *                       ── close ───▶ windows with end + allowedLateness ≤ wm: results written downstream
 *                       ── forget ──▶ their state deleted;  then the vertex's watermark is published
 *
 * A crash after the commit re-emits after start (the state is still there; buffer dedup drops the
 * repeat); a crash before it redelivers the epoch's messages, which the state never counted.
 * That re-emission runs beside the actors, never inside `start()`: with every vertex in one
 * process and the next buffer full, its write waits for a reader that runs only once they start.
 *
 * The ack's steps are the states of a `windowKeeper` actor per partition (@weir/actors), so the
 * inspector and a trace show them; this file is its `windowIo` (the I/O), and `ack` sends the
 * keeper a `window.commit` and awaits its answer. In a pipeline the keepers are the vertex
 * supervisor's children (`attach`); unattached (unit tests), each partition runs its own.
 */
import { createActor } from "xstate";
import { fromWindowIo, windowKeeperMachine, type AckInput, type Message, type SinkAnswer, type SinkContext, type SinkFunction, type SinkResult, type WindowIo, type WindowKeeperEmitted } from "@weir/actors";
import type { Logger } from "../observability/logger.js";
import type { VertexCounts } from "../observability/vertex-counters.js";
import type { FailureLog } from "../observability/failure-log.js";
import type { GroupBySpec } from "../spec/reduce-spec.js";
import { createWindowKeeper, type ClosedWindow, type WindowKeeper } from "../reduce/window-keeper.js";
import type { Reducer } from "../reduce/reducer.js";
import type { WindowStateChange } from "../reduce/window-state.js";
import type { WindowStore } from "../reduce/window-store.js";
import { ReduceError } from "../reduce/reduce-error.js";
import { END_OF_TIME } from "../time/watermark.js";

export interface ReduceVertexOptions {
  readonly vertex: string;
  readonly partitions: number;
  readonly groupBy: GroupBySpec;
  readonly reducer: Reducer;
  readonly store: WindowStore;
  /** Writes closed windows' results downstream (the vertex's forwarder); `tags` by result id route them. */
  readonly forward: (messages: readonly Message[], tags: ReadonlyMap<string, readonly string[]>, context: SinkContext) => Promise<readonly SinkAnswer[]>;
  /** Called once an input epoch is committed, with the watermark the vertex now holds for `partition`. */
  readonly publish?: (partition: number, watermark: number) => Promise<void>;
  /** Told of every change of a partition's watermark and open windows (metrics, dashboard). */
  readonly observe?: (partition: number, watermark: number | undefined, openWindows: number, stateSize: number) => void;
  readonly counts: VertexCounts;
  readonly failures: FailureLog;
  readonly logger: Logger;
  /** True once the run is over: a write of closed windows stops retrying (their state stays for the next run). */
  readonly cancelled?: () => boolean;
  /** Waits between attempts to write a closed window's results (the downstream buffer full or unreachable). */
  readonly retryDelayMs?: (attempt: number) => number;
}

export interface ReduceVertex {
  /**
   * Loads every partition's windows and watermark, and starts emitting the windows that closed
   * before a restart without waiting for it (a partition's next ack does).
   */
  start(): Promise<void>;
  /** The vertex's sink: absorbs an attempt's messages. */
  readonly sink: SinkFunction;
  /** The vertex's ack: commit, close, emit, forget, publish. Safe to repeat after a failure. */
  ack(input: AckInput): Promise<void>;
  /** How many windows `partition` holds open. */
  openWindows(partition: number): number;
  /** The keepers' I/O: what the supervisor's `windowKeeper` children are provided with. */
  readonly windowIo: WindowIo;
  /** Sends acks to the keepers the vertex's supervisor spawned (looked up per ack: they start with it). */
  attach(keeperOf: (partition: number) => KeeperRef | undefined): void;
}

/** What `ack` needs of a window keeper actor: to send it a commit and hear its answer. */
export interface KeeperRef {
  send(event: { readonly type: "window.commit"; readonly epoch: number }): void;
  on(type: WindowKeeperEmitted["type"], handler: (event: WindowKeeperEmitted) => void): { unsubscribe(): void };
  /** Completes when the keeper stops (its supervisor stopped): an ack in flight then fails rather than hangs. */
  subscribe(observer: { complete?: () => void; error?: (error: unknown) => void }): { unsubscribe(): void };
}

export function createReduceVertex(options: ReduceVertexOptions): ReduceVertex {
  const keepers: WindowKeeper[] = [];
  // The diff of an epoch whose commit failed: the next try persists the same diff (the keeper folded it already).
  const unpersisted = new Map<number, { readonly epoch: number; readonly change: WindowStateChange }>();
  // The last ack each partition committed: the same ack retried (its forget failed) only closes windows,
  // since committing it again would ack nothing and look like a lost partition.
  const committedAcks = new Map<number, string>();
  // Per partition, the emission of the windows a restart found closable, until its next ack awaits it.
  const restored = new Map<number, Promise<void>>();
  const keeperOf = (partition: number): WindowKeeper => {
    const keeper = keepers[partition];
    if (keeper === undefined) throw new Error(`reduce vertex '${options.vertex}': partition ${partition} was not started`);
    return keeper;
  };

  // The windows the last close found, per partition, until forgotten: the runtime's, never the actor's (DESIGN §7).
  const closedOf = new Map<number, readonly ClosedWindow[]>();
  // The ack each partition's keeper is committing.
  const acking = new Map<number, AckInput>();

  const windowIo: WindowIo = {
    async persist(partition) {
      const input = acking.get(partition);
      if (input === undefined) throw new Error(`reduce vertex '${options.vertex}': partition ${partition}'s keeper asked to persist with no ack in flight`);
      const keeper = keeperOf(partition);
      if (committedAcks.get(partition) !== ackIdentity(input)) await commit(input, keeper);
      return { openWindows: keeper.openWindows(), watermark: keeper.watermark ?? null };
    },
    async close(partition) {
      const closed = await keeperOf(partition).closable();
      closedOf.set(partition, closed);
      return closed.length;
    },
    async emit(partition) {
      const closed = closedOf.get(partition) ?? [];
      await writeAll(options, partition, closed.flatMap((window) => window.results), tagsOf(closed));
    },
    async forget(partition) {
      const fields = (closedOf.get(partition) ?? []).map((window) => window.field);
      await options.store.forget(partition, fields);
      keeperOf(partition).forget(fields);
      closedOf.delete(partition);
      return keeperOf(partition).openWindows();
    },
  };

  /** At start, before any keeper runs: the windows that closed before a restart, in the keeper's order. */
  const emitClosed = async (partition: number): Promise<void> => {
    if ((await windowIo.close(partition)) === 0) return;
    await windowIo.emit(partition);
    await windowIo.forget(partition);
  };

  let attached: ((partition: number) => KeeperRef | undefined) | undefined;
  const ownKeepers = new Map<number, KeeperRef>();
  const keeperActorOf = (partition: number): KeeperRef => {
    const found = attached?.(partition);
    if (found !== undefined) return found;
    if (attached !== undefined) throw new Error(`reduce vertex '${options.vertex}': partition ${partition} has no window keeper in the vertex's actor system`);
    const own = ownKeepers.get(partition);
    if (own !== undefined) return own;
    const keeper = keeperOf(partition);
    const actor = createActor(windowKeeperMachine.provide({ actors: { windowIo: fromWindowIo(windowIo) } }), {
      input: { vertex: options.vertex, partition, openWindows: keeper.openWindows(), watermark: keeper.watermark ?? null },
    });
    actor.start();
    ownKeepers.set(partition, actor);
    return actor;
  };

  /**
   * Sends the keeper the ack's commit and settles with its answer. The send waits a microtask: the
   * ack starts inside the reader's `reader.ack` cascade, and a trace records a send from outside
   * as a stimulus of its own, which the replay performs after that cascade — so it must happen there.
   */
  const commitThroughKeeper = async (input: AckInput): Promise<void> => {
    await Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const keeper = keeperActorOf(input.partition);
      const subscriptions: Array<{ unsubscribe(): void }> = [];
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        for (const subscription of subscriptions) subscription.unsubscribe();
        if (acking.get(input.partition) === input) acking.delete(input.partition);
        outcome();
      };
      const stopped = () =>
        settle(() =>
          reject(new Error(`reduce vertex '${options.vertex}': partition ${input.partition}'s window keeper stopped before it answered epoch ${input.epoch} (its vertex is stopping); the epoch is not acked and is read again on the next start`)),
        );
      subscriptions.push(
        keeper.on("windowKeeper.done", (event) => {
          if (event.type === "windowKeeper.done" && event.epoch === input.epoch) settle(resolve);
        }),
        keeper.on("windowKeeper.failed", (event) => {
          if (event.type === "windowKeeper.failed" && event.epoch === input.epoch) settle(() => reject(event.error));
        }),
        keeper.subscribe({ complete: stopped, error: stopped }),
      );
      if (settled) return; // already stopped
      acking.set(input.partition, input);
      keeper.send({ type: "window.commit", epoch: input.epoch });
    });
  };

  /** Acks the epoch's offsets and persists its windows and watermark in one step (once per epoch). */
  const commit = async (input: AckInput, keeper: WindowKeeper): Promise<void> => {
    let pending = unpersisted.get(input.partition);
    if (pending === undefined || pending.epoch !== input.epoch) {
      pending = { epoch: input.epoch, change: keeper.commit(input.epoch, input.watermark) };
      unpersisted.set(input.partition, pending);
    }
    const acked = await options.store.commit(input.partition, input.offsets, pending.change, keeper.watermark);
    unpersisted.delete(input.partition);
    if (acked === 0 && input.offsets.length > 0) {
      // Not pending for this worker any more: another took the partition over (a zombie after a stall).
      throw new ReduceError(
        "REDUCE_PARTITION_LOST",
        `reduce vertex '${options.vertex}' partition ${input.partition}: ${input.offsets.length - acked} of the epoch's entries were no longer pending for this worker (another worker took the partition over while this one stalled); its window state was left unchanged — restart this worker`,
      );
    }
    committedAcks.set(input.partition, ackIdentity(input));
  };

  /** Emits what a restart found closable; a failure is logged, the partition's next ack emits again. */
  const emitRestored = async (partition: number): Promise<void> => {
    try {
      await emitClosed(partition);
      observe(partition);
    } catch (error) {
      options.logger.warn("windows closed before the restart were not all emitted; the partition's next ack emits them", { partition, error: error instanceof Error ? error.message : String(error) });
    }
  };

  const observe = (partition: number) => {
    const keeper = keeperOf(partition);
    options.observe?.(partition, keeper.watermark, keeper.openWindows(), keeper.stateSize());
  };

  return {
    async start() {
      for (let partition = 0; partition < options.partitions; partition += 1) {
        const stored = await options.store.load(partition);
        keepers[partition] = createWindowKeeper({
          vertex: options.vertex,
          partition,
          groupBy: options.groupBy,
          reducer: options.reducer,
          stored: stored.windows,
          ...(stored.watermark === undefined ? {} : { watermark: stored.watermark }),
        });
        if (stored.windows.size > 0) options.logger.info("reduce state loaded", { partition, windows: stored.windows.size, watermark: stored.watermark });
        observe(partition);
      }
      for (let partition = 0; partition < options.partitions; partition += 1) restored.set(partition, emitRestored(partition));
    },

    sink: async (messages: readonly Message[], context: SinkContext): Promise<SinkResult[]> => {
      const outcome = keeperOf(context.partition).absorb(context.epoch, messages);
      if (outcome.late.length === 0 && outcome.failed.length === 0) return messages.map((message) => ({ id: message.id, status: "ok" }));
      const refused = new Map<string, string>();
      for (const { message, reason } of outcome.late) refused.set(message.id, reason);
      for (const { message, reason } of outcome.failed) refused.set(message.id, reason);
      if (outcome.late.length > 0) {
        options.counts.late += outcome.late.length;
        options.failures.record(options.vertex, "late", outcome.late.length, outcome.late[0]!.reason);
      }
      return messages.map((message) => {
        const reason = refused.get(message.id);
        return reason === undefined ? { id: message.id, status: "ok" } : { id: message.id, status: "fallback", reason };
      });
    },

    async ack(input) {
      const keeper = keeperOf(input.partition);
      // One emission at a time per partition: the restored one first (a failure of it is retried by the keeper's close).
      await restored.get(input.partition);
      restored.delete(input.partition);
      await commitThroughKeeper(input);
      observe(input.partition);
      const watermark = outputWatermark(keeper, options.groupBy.allowedLateness);
      if (watermark !== undefined) await options.publish?.(input.partition, watermark);
    },

    openWindows: (partition) => keeperOf(partition).openWindows(),
    windowIo,
    attach(keeperOf) {
      attached = keeperOf;
    },
  };
}

/** An ack told apart from the next epochs' without joining every offset. */
function ackIdentity(input: AckInput): string {
  return `${input.epoch}:${input.offsets.length}:${input.offsets[0] ?? ""}:${input.offsets.at(-1) ?? ""}`;
}

/**
 * What the vertex may promise downstream: its input watermark less `allowedLateness` (a message that
 * late still opens a window ending after it, whose result carries end − 1), held back by its
 * earliest open window's results.
 */
export function outputWatermark(keeper: WindowKeeper, allowedLateness: number): number | undefined {
  const input = keeper.watermark;
  if (input === undefined) return undefined;
  const onTimeFrom = input === END_OF_TIME ? input : input - allowedLateness;
  const earliest = keeper.earliestOpenEnd();
  return earliest === undefined ? onTimeFrom : Math.min(onTimeFrom, earliest - 1);
}

/** Writes results downstream until every one is written: a closed window is never lost. */
async function writeAll(options: ReduceVertexOptions, partition: number, messages: readonly Message[], tags: ReadonlyMap<string, readonly string[]>): Promise<void> {
  let left = messages;
  for (let attempt = 1; left.length > 0; attempt += 1) {
    const controller = new AbortController();
    try {
      const results = await options.forward(left, tags, { vertex: options.vertex, partition, epoch: 0, attempt, signal: controller.signal });
      const ok = new Set(results.filter((result) => result.status === "ok").map((result) => result.id));
      left = left.filter((message) => !ok.has(message.id));
    } catch (error) {
      options.logger.warn("closed windows' results could not be written; retrying", { partition, messages: left.length, attempt, error: error instanceof Error ? error.message : String(error) });
    }
    if (left.length > 0 && options.cancelled?.() === true) throw new Error(`the run ended before ${left.length} closed windows' results of partition ${partition} were written; they stay in the window state`);
    if (left.length > 0) await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs?.(attempt) ?? Math.min(1_000, 10 * 2 ** attempt)));
  }
}

/** Result id → the tags its reducer gave it (edges with conditions route on them). */
function tagsOf(closed: readonly ClosedWindow[]): ReadonlyMap<string, readonly string[]> {
  const tags = new Map<string, readonly string[]>();
  for (const window of closed) {
    window.results.forEach((result, i) => {
      const given = window.tags?.[i];
      if (given !== undefined) tags.set(result.id, given);
    });
  }
  return tags;
}
