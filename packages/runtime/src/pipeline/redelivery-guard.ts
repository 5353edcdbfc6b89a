/**
 * Stops a poison message that kills its worker from looping forever (issue #10 item 5), with the
 * delivery counts Redis keeps: every XREADGROUP that returns an entry (new, or a consumer's own
 * pending re-read) and every XCLAIM counts one delivery, and an ack ends them. An entry that a
 * worker finds pending — its own from before a restart, or a dead consumer's it claims — was
 * delivered that many times without an ack: its worker died (or stalled past `claimIdle`) that
 * many times while processing it. Per vertex input on a durable buffer:
 *
 *   deliveries d before this one   what happens
 *   ─────────────────────────────  ────────────────────────────────────────────────────────────
 *   d < isolateAt                  read as usual, in batches
 *   isolateAt ≤ d < maxDeliveries  a suspect: read alone, with nothing else in flight in this
 *                                  process (isolation-coordinator.ts), so a death is its own
 *   d ≥ maxDeliveries              poison: handed out, but the gate answers `fallback` with
 *                                  "its worker died d times while processing it"; never processed
 *
 * `isolateAt = max(1, maxDeliveries − 1)`: the first deaths of a batch are cheap to recover from
 * (everything is re-read in batches), and an entry reaches `maxDeliveries` only through a death
 * while it ran alone — so the messages that shared its batches reach the sink.
 *
 * Framed entries (one entry per partition-write, buffer/redis/frames.ts): the delivery count of an
 * entry stands for the deaths of its first unacked message — an ack that leaves the entry acked in
 * part records the acked prefix (re-reads skip it) and caps the count one short of maxDeliveries,
 * and a hand-out from what the buffer kept of the entry counts one delivery (scripts.ts frameAck,
 * frameDeliver). So a suspect or poison entry is served one message at a time, and a partly served
 * entry stays at the head of the plan; once its poison message is served, the rest are suspects.
 *
 * The reader's own pending entries are listed once, at its first read (XPENDING: no delivery
 * counted), and served from that list — oldest first, suspects alone — before any new entry is
 * read; a worker that finds entries delivered more than once logs them in one line per vertex.
 */
import type { ReadEntry } from "@weir/actors";
import type { PartitionedBuffer, PendingDelivery, ReadBatch } from "../buffer/index.js";
import { deliveryUnitOf, endsDeliveryUnit } from "../buffer/redis/frames.js";
import type { Logger } from "../observability/logger.js";
import type { ClaimSchedule } from "./claim-schedule.js";
import type { IsolationCoordinator } from "./isolation-coordinator.js";
import type { MessageGate } from "./message-gate.js";

export interface RedeliveryGuardOptions {
  readonly vertex: string;
  readonly buffer: PartitionedBuffer;
  readonly consumer: string;
  readonly maxDeliveries: number;
  readonly claimIdleMs: number;
  readonly claims: ClaimSchedule;
  readonly coordinator: IsolationCoordinator;
  readonly logger: Logger;
  /** Told of every claim of a dead consumer's entries (the dashboard shows who claimed what). */
  readonly onClaimed?: (partition: number, count: number) => void;
}

export interface GuardedRead {
  readonly partition: number;
  readonly max: number;
  readonly timeoutMs: number;
  readonly fromPending: boolean;
}

export interface RedeliveryGuard {
  /** One read for the partition reader: planned pending entries first, then new ones, then claims. */
  read(request: GuardedRead, signal: AbortSignal): Promise<ReadBatch>;
  /** Acks offsets (and frees the process for the next suspect). */
  ack(partition: number, offsets: readonly string[]): Promise<void>;
  /** Bookkeeping of an ack made elsewhere (a reduce vertex acks in its window commit). */
  acknowledged(partition: number, offsets: readonly string[]): void;
  /** Why the message must not be processed (poison), or undefined. */
  poisonReason(messageId: string): string | undefined;
}

/** Own pending entries listed per XPENDING page. */
const PENDING_PAGE = 1_000;
/** Ids shown in the startup log line; the rest are counted. */
const LOGGED_IDS = 20;
const NOTHING: ReadBatch = Object.freeze({ entries: Object.freeze([]) as readonly ReadEntry[], endOfStream: false });

/** A read's watermark (issue #13), to keep on a batch rebuilt from it; nothing when it has none. */
const watermarkOf = (batch: ReadBatch): { watermark?: number } => (batch.watermark === undefined ? {} : { watermark: batch.watermark });

interface Planned {
  readonly offset: string;
  /** Of the entry's first unacked message (framed entries: see the module doc). */
  deaths: number;
}

interface PartitionState {
  /** Own pending entries still to serve, oldest first. */
  plan: Planned[];
  /** The last planned offset read (pending re-reads page after it). */
  cursor: string | undefined;
  /** A dead consumer's suspect waits for this process to be quiet before it is claimed. */
  claimWaiting: boolean;
}

export function createRedeliveryGuard(options: RedeliveryGuardOptions): RedeliveryGuard {
  const { vertex, buffer, consumer, maxDeliveries, claimIdleMs, claims, coordinator, logger } = options;
  const isolateAt = Math.max(1, maxDeliveries - 1);
  const list = buffer.pendingDeliveries!.bind(buffer);
  const states: Array<PartitionState | undefined> = new Array(buffer.partitions);
  /** message id → reason, until the entry carrying it is acked. */
  const poisoned = new Map<string, string>();
  const poisonedOffsets = new Map<string, string>();
  let planning: Promise<void> | undefined;

  const classify = (deaths: number): "normal" | "suspect" | "poison" => (deaths >= maxDeliveries ? "poison" : deaths >= isolateAt ? "suspect" : "normal");

  /** Lists every partition's own pending entries once (the first read of any partition). */
  const plan = (): Promise<void> => {
    planning ??= (async () => {
      const found = await Promise.all(Array.from({ length: buffer.partitions }, (_, partition) => listOwn(partition)));
      found.forEach((entries, partition) => {
        states[partition] = { plan: entries.map((entry) => ({ offset: entry.offset, deaths: entry.deliveries })), cursor: undefined, claimWaiting: false };
      });
      logRedelivered(found);
    })().catch((error: unknown) => {
      planning = undefined;
      throw error;
    });
    return planning;
  };

  const listOwn = async (partition: number): Promise<PendingDelivery[]> => {
    const out: PendingDelivery[] = [];
    for (let start = "-"; ; ) {
      const page = await list(partition, { consumer, start, max: PENDING_PAGE });
      out.push(...page);
      if (page.length < PENDING_PAGE) return out;
      start = `(${page[page.length - 1]!.offset}`;
    }
  };

  const logRedelivered = (found: ReadonlyArray<readonly PendingDelivery[]>): void => {
    const again = found.flatMap((entries, partition) => entries.filter((entry) => entry.deliveries > 1).map((entry) => ({ ...entry, partition })));
    const pending = found.reduce((sum, entries) => sum + entries.length, 0);
    if (again.length === 0) {
      if (pending > 0) logger.info("re-reading this consumer's pending entries", { consumer, pending });
      return;
    }
    const shown = again.slice(0, LOGGED_IDS).map((entry) => `p${entry.partition}:${entry.offset}×${entry.deliveries}`);
    logger.warn("pending entries were delivered more than once before this start (their workers died while processing them)", {
      consumer,
      pending,
      deliveredMoreThanOnce: again.length,
      entries: shown.join(", ") + (again.length > LOGGED_IDS ? ` (and ${again.length - LOGGED_IDS} more)` : ""),
      maxDeliveries,
    });
  };

  /** Marks entries whose deaths reached maxDeliveries, so the gate sends them to the fallback. */
  const markPoison = (partition: number, entries: readonly ReadEntry[], deathsOf: (offset: string) => number): void => {
    for (const entry of entries) {
      const deaths = deathsOf(entry.offset);
      if (deaths < maxDeliveries) continue;
      const reason = `its worker died ${deaths} times while processing it (maxDeliveries: ${maxDeliveries})`;
      poisoned.set(entry.message.id, reason);
      poisonedOffsets.set(`${partition}:${entry.offset}`, entry.message.id);
      logger.warn("poison message: it goes to the fallback instead of the udf or sink", { partition, id: entry.message.id, offset: entry.offset, reason });
    }
  };

  /**
   * Runs a read that `mayHandOut` allowed: under way, it counts as in flight, so no suspect is
   * granted beside what it brings back (isolation-coordinator.ts); then its entries do.
   */
  const counted = async <T extends { readonly entries: readonly ReadEntry[] }>(read: () => Promise<T>): Promise<T> => {
    coordinator.readStarted();
    let count = 0;
    try {
      const result = await read();
      count = result.entries.length;
      return result;
    } finally {
      coordinator.readEnded(vertex, count);
    }
  };

  /** Serves the head of the partition's plan: a batch of normal entries, or one suspect alone. */
  const servePlan = async (partition: number, state: PartitionState, request: GuardedRead, signal: AbortSignal): Promise<ReadBatch> => {
    const head = state.plan[0]!;
    let max = 0;
    let holder: ReturnType<IsolationCoordinator["tryIsolate"]>;
    const kind = classify(head.deaths);
    if (kind === "suspect") {
      holder = coordinator.tryIsolate(vertex, partition);
      if (holder === undefined) return idle(request, signal);
      max = 1;
    } else {
      coordinator.withdraw(vertex, partition);
      if (!coordinator.mayHandOut(vertex)) return idle(request, signal);
      // A poison entry's first unacked message goes alone: it alone is the one that killed.
      if (kind === "poison") max = 1;
      while (max < state.plan.length && max < request.max && classify(state.plan[max]!.deaths) === "normal") max += 1;
    }
    // `max` counts planned entries; a framed entry holds many messages: a suspect or poison one is
    // served one message at a time, a normal batch up to request.max messages.
    const after = state.cursor === undefined ? {} : { after: state.cursor };
    const messages = kind === "normal" ? request.max : 1;
    const reread = () => buffer.read(partition, { consumer, max: messages, maxEntries: max, timeoutMs: 0, fromPending: true, ...after });
    // A granted suspect is counted once read (handedOut below); anything else while under way.
    const batch = holder === undefined ? await counted(reread) : await reread();
    const deaths = new Map(state.plan.map((entry) => [entry.offset, entry.deaths]));
    const last = batch.entries[batch.entries.length - 1];
    if (last === undefined) {
      // Nothing pending after the cursor any more (claimed by another worker): the plan is stale.
      state.plan = [];
      if (holder !== undefined) coordinator.release(holder);
      return NOTHING;
    }
    if (holder !== undefined) holder.offset = last.offset;
    state.cursor = last.offset;
    const served = new Set(batch.entries.map((entry) => deliveryUnitOf(entry.offset)));
    // Planned entries at or before the last one served that were not served are gone (acked or
    // claimed elsewhere). An entry whose last message was not served yet (a frame longer than the
    // read) stays at the head: the next read resumes it, classified the same.
    const lastUnit = deliveryUnitOf(last.offset);
    const cut = state.plan.findIndex((entry) => entry.offset === lastUnit);
    const past = endsDeliveryUnit(last.offset) ? 1 : 0;
    state.plan = cut < 0 ? state.plan.filter((entry) => !served.has(entry.offset)) : state.plan.slice(cut + past);
    markPoison(partition, batch.entries, (offset) => deaths.get(deliveryUnitOf(offset)) ?? 0);
    // The rest of a poison frame did not kill: its messages are suspects (one death short of
    // poison), as the ack that acknowledges the poison one caps the entry's count (frameAck).
    const resumed = past === 0 ? state.plan[0] : undefined;
    if (kind === "poison" && resumed !== undefined && resumed.offset === lastUnit) resumed.deaths = maxDeliveries - 1;
    if (holder !== undefined) coordinator.handedOut(vertex, batch.entries.length);
    return { entries: batch.entries, endOfStream: false, ...watermarkOf(batch) };
  };

  /** Takes over a dead consumer's entries: normal ones in a batch, a suspect alone. */
  const claim = async (partition: number, state: PartitionState, request: GuardedRead): Promise<ReadBatch> => {
    const idleEntries = (await list(partition, { minIdleMs: claimIdleMs, max: request.max + 100 })).filter((entry) => entry.consumer !== consumer);
    const head = idleEntries[0];
    state.claimWaiting = false;
    if (head === undefined) {
      coordinator.withdraw(vertex, partition);
      return NOTHING;
    }
    let holder: ReturnType<IsolationCoordinator["tryIsolate"]>;
    let max = 0;
    const kind = classify(head.deliveries);
    if (kind === "suspect") {
      holder = coordinator.tryIsolate(vertex, partition);
      // Other readers now pause; this partition asks again on its next reads.
      state.claimWaiting = holder === undefined;
      if (holder === undefined) return NOTHING;
      max = 1;
    } else {
      coordinator.withdraw(vertex, partition);
      // Normal entries must not go out beside an isolated suspect (they would share its death).
      if (!coordinator.mayHandOut(vertex)) return NOTHING;
      if (kind === "poison") max = 1;
      while (max < idleEntries.length && max < request.max && classify(idleEntries[max]!.deliveries) === "normal") max += 1;
    }
    // `max` counts entries; a framed suspect or poison one goes one message at a time.
    const take = async () => ({ entries: await buffer.claimIdle(partition, consumer, claimIdleMs, kind === "normal" ? request.max : 1, max) });
    const claimed = (holder === undefined ? await counted(take) : await take()).entries;
    if (holder !== undefined) {
      if (claimed.length === 0) coordinator.release(holder);
      else holder.offset = claimed[claimed.length - 1]!.offset;
    }
    if (claimed.length === 0) return NOTHING;
    // A claim counts a delivery: the deliveries before it are the deaths.
    const before = new Map(idleEntries.map((entry) => [entry.offset, entry.deliveries]));
    markPoison(partition, claimed, (offset) => before.get(deliveryUnitOf(offset)) ?? 0);
    // The rest of a claimed suspect or poison frame is this consumer's now: served from the plan,
    // one message at a time, as its own pending entries are (a poison frame's rest as suspects).
    const last = claimed[claimed.length - 1]!;
    if (kind !== "normal" && !endsDeliveryUnit(last.offset)) {
      const unit = deliveryUnitOf(last.offset);
      state.plan.unshift({ offset: unit, deaths: kind === "poison" ? maxDeliveries - 1 : (before.get(unit) ?? 0) });
      state.cursor = last.offset;
    }
    if (holder !== undefined) coordinator.handedOut(vertex, claimed.length);
    logger.warn("claimed entries of an idle consumer", { partition, count: claimed.length, ...(holder === undefined ? {} : { isolated: true }) });
    options.onClaimed?.(partition, claimed.length);
    return { entries: claimed, endOfStream: false };
  };

  /** Nothing may be handed out now: wait for a change (bounded by the read timeout), read nothing. */
  const idle = async (request: GuardedRead, signal: AbortSignal): Promise<ReadBatch> => {
    await coordinator.wait(request.timeoutMs, signal);
    return NOTHING;
  };

  const acknowledged = (partition: number, offsets: readonly string[]): void => {
    coordinator.acked(vertex, partition, offsets);
    if (poisonedOffsets.size === 0) return;
    for (const offset of offsets) {
      const id = poisonedOffsets.get(`${partition}:${offset}`);
      if (id === undefined) continue;
      poisonedOffsets.delete(`${partition}:${offset}`);
      poisoned.delete(id);
    }
  };

  return {
    async read(request, signal) {
      const { partition } = request;
      await plan();
      const state = states[partition]!;
      if (state.plan.length > 0) return servePlan(partition, state, request, signal);
      // Own pending entries are all served: the reader's pending phase has nothing more.
      if (request.fromPending) return NOTHING;
      if (state.claimWaiting) {
        const claimed = await claim(partition, state, request);
        return claimed.entries.length > 0 || !state.claimWaiting ? claimed : idle(request, signal);
      }
      if (!coordinator.mayHandOut(vertex)) return idle(request, signal);
      const batch = await counted(() => buffer.read(partition, { consumer, max: request.max, timeoutMs: request.timeoutMs, signal }));
      if (batch.entries.length > 0 || batch.endOfStream || !claims.isDue(partition)) return batch;
      // The empty read's watermark (issue #13) goes along with what the claim brings.
      const claimed = await claim(partition, state, request);
      return batch.watermark === undefined ? claimed : { ...claimed, watermark: batch.watermark };
    },
    async ack(partition, offsets) {
      await buffer.ack(partition, offsets);
      acknowledged(partition, offsets);
    },
    acknowledged,
    poisonReason: (messageId) => (poisoned.size === 0 ? undefined : poisoned.get(messageId)),
  };
}

/** `inner` (the vertex's size and schema gate, if any) behind the guard's poison check. */
export function withPoisonCheck(inner: MessageGate | undefined, guard: RedeliveryGuard): MessageGate {
  return {
    check(message) {
      return guard.poisonReason(message.id) ?? inner?.check(message);
    },
  };
}
