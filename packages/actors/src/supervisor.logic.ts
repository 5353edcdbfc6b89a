/**
 * The supervisor's epoch bookkeeping as pure functions: which partitions may close an epoch,
 * which closed epoch has joined, and what committing it adds up to.
 */
import { emptyTallies, type EpochTallies } from "./epoch-protocol.js";
import type { CommitUnit, PartitionControl, PartitionTotals, SupervisorContext } from "./supervisor.types.js";

export function initialParts(partitions: number): PartitionControl[] {
  return Array.from({ length: partitions }, () => ({ hasData: false, closeRequested: false, draining: false }));
}

export function initialTotals(partitions: number): PartitionTotals[] {
  return Array.from({ length: partitions }, (_, partition) => ({
    partition,
    ...emptyTallies,
    epochs: 0,
    acked: 0,
    protocolErrors: 0,
  }));
}

export function updatePart(
  parts: readonly PartitionControl[],
  partition: number,
  change: Partial<PartitionControl>,
): PartitionControl[] {
  return parts.map((part, index) => (index === partition ? { ...part, ...change } : part));
}

/** Closed, uncommitted epochs holding `partition`, not counting epoch `without` (about to commit). */
function inflightFor(context: SupervisorContext, partition: number, without?: number): number {
  let count = 0;
  for (const unit of context.units) if (unit.epoch !== without && unit.partitions.includes(partition)) count += 1;
  return count;
}

/** Whether `partition`'s open epoch may close now: an in-flight slot is free for it (or the vertex, aligned). */
function hasRoomFor(context: SupervisorContext, partition: number | null): boolean {
  if (context.commitMode === "aligned" || partition === null) return context.units.length < context.maxInflightEpochs;
  return inflightFor(context, partition) < context.maxInflightEpochs;
}

/**
 * Whether `partition`'s `batcher.full` closes its open epoch in its own step (issue 12: no eventless
 * close after it). The full partition's room is all that decides: aligned, it closes every
 * partition; otherwise the request is held until a commit frees the slot. Aligned, no other close
 * can be pending when there is room (the commit that frees a slot closes what waited for it);
 * partition mode, another partition's held close has no room and stays held.
 */
export function fullCloses(context: SupervisorContext, partition: number): boolean {
  return hasRoomFor(context, partition);
}

/**
 * Whether an epoch timer asks for a close: a partition's own timer always does; the vertex-wide
 * one (aligned, `partition` null) when some partition's open epoch holds data.
 */
export function timeoutRequests(context: SupervisorContext, partition: number | null): boolean {
  return partition !== null || context.parts.some((part) => part.hasData);
}

/** Whether an epoch timer closes the epoch in its own step (the room decides, as for `fullCloses`). */
export function timeoutCloses(context: SupervisorContext, partition: number | null): boolean {
  return timeoutRequests(context, partition) && hasRoomFor(context, partition);
}

/**
 * The partitions a requested close closes: all of them (aligned) or the requesting one. A close
 * with room never leaves another one pending beside it (`fullCloses`), so the request alone decides.
 */
export function requestedClose(context: SupervisorContext, partition: number | null): number[] {
  if (context.commitMode === "aligned" || partition === null) return context.parts.map((_, index) => index);
  return [partition];
}

/**
 * Whether committing `epoch` lets a held close go ahead: the close then happens in the commit's own
 * step (`commitOnAck`), so the supervisor goes to `joining`, not `collecting`.
 */
export function closesAfterCommit(context: SupervisorContext, epoch: number): boolean {
  const { parts } = context;
  if (context.commitMode === "aligned") {
    if (context.units.length - 1 >= context.maxInflightEpochs) return false;
    for (let p = 0; p < parts.length; p += 1) if (parts[p]!.closeRequested) return true;
    return false;
  }
  for (let p = 0; p < parts.length; p += 1) {
    if (parts[p]!.closeRequested && inflightFor(context, p, epoch) < context.maxInflightEpochs) return true;
  }
  return false;
}

/**
 * `parts` with `closing`'s open epochs closed: nothing requested, no data. Parts already so are
 * kept as they are, and `parts` itself when none changes (no copy per event, issue 12).
 */
export function afterClose(parts: readonly PartitionControl[], closing: readonly number[]): readonly PartitionControl[] {
  let next: PartitionControl[] | undefined;
  for (const p of closing) {
    const part = parts[p]!;
    if (!part.hasData && !part.closeRequested) continue;
    next ??= [...parts];
    next[p] = { ...part, hasData: false, closeRequested: false };
  }
  return next ?? parts;
}

/**
 * The partitions whose open epoch closes now. Aligned: all or none — any partition's request
 * closes the epoch for every partition, while fewer than `maxInflightEpochs` are in flight.
 * Partition mode: each partition on its own request and its own in-flight count.
 */
export function closablePartitions(context: SupervisorContext, ignoreInflightLimit = false): number[] {
  const all = context.parts.map((_, index) => index);
  if (context.commitMode === "aligned") {
    const requested = context.parts.some((part) => part.closeRequested);
    const hasRoom = ignoreInflightLimit || context.units.length < context.maxInflightEpochs;
    return requested && hasRoom ? all : [];
  }
  return all.filter(
    (p) => context.parts[p]!.closeRequested && (ignoreInflightLimit || inflightFor(context, p) < context.maxInflightEpochs),
  );
}

/** Whether `closablePartitions` would close anything now; allocates nothing (a guard, run often). */
export function hasClosableEpoch(context: SupervisorContext): boolean {
  const { parts } = context;
  if (context.commitMode === "aligned") {
    if (context.units.length >= context.maxInflightEpochs) return false;
    for (let p = 0; p < parts.length; p += 1) if (parts[p]!.closeRequested) return true;
    return false;
  }
  for (let p = 0; p < parts.length; p += 1) {
    if (parts[p]!.closeRequested && inflightFor(context, p) < context.maxInflightEpochs) return true;
  }
  return false;
}

/**
 * The drain's last close: the partitions whose open epoch still holds data — all of them in
 * aligned mode (EOT count 0 where empty) as soon as any does; none when nothing is left.
 */
export function finalClosePartitions(context: SupervisorContext): number[] {
  const withData = context.parts.flatMap((part, p) => (part.hasData ? [p] : []));
  if (context.commitMode === "partition" || withData.length === 0) return withData;
  return context.parts.map((_, p) => p);
}

/** The drain's last close also waits for an in-flight slot, so the limit holds to the end. */
export function canCloseFinal(context: SupervisorContext): boolean {
  if (context.commitMode === "aligned") return context.units.length < context.maxInflightEpochs;
  return finalClosePartitions(context).every((p) => inflightFor(context, p) < context.maxInflightEpochs);
}

/**
 * What closing `closing`'s open epochs leaves in the context, and the epochs it closes: one for all
 * of them (aligned) or one per partition (partition mode), numbered from `nextEpoch`.
 */
export function closeOf(
  context: Pick<SupervisorContext, "commitMode" | "nextEpoch" | "units" | "parts">,
  closing: readonly number[],
): { readonly closed: readonly CommitUnit[]; readonly update: Pick<SupervisorContext, "nextEpoch" | "units" | "parts"> } {
  let nextEpoch = context.nextEpoch;
  const closed: CommitUnit[] = [];
  const groups = context.commitMode === "aligned" ? [closing] : closing.map((p) => [p]);
  for (const partitions of groups) {
    closed.push({ epoch: nextEpoch, partitions, done: {}, acked: {} });
    nextEpoch += 1;
  }
  return { closed, update: { nextEpoch, units: [...context.units, ...closed], parts: afterClose(context.parts, closing) } };
}

/** The first closed epoch whose partitions have all reported `sink.epochDone`. */
export function joinedUnit(units: readonly CommitUnit[]): CommitUnit | undefined {
  return units.find((unit) => unit.partitions.every((p) => unit.done[p] !== undefined));
}

export function isUnitAcked(unit: CommitUnit): boolean {
  return unit.partitions.every((p) => unit.acked[p] !== undefined);
}

/**
 * Whether recording `partition`'s `sink.epochDone` for `epoch` leaves a joined unit (what
 * `joinedUnit` would then find): a guard, so it looks ahead instead of recording, and allocates nothing.
 */
export function joinsWith(units: readonly CommitUnit[], epoch: number, partition: number): boolean {
  for (const unit of units) {
    let joined = true;
    for (const p of unit.partitions) {
      if (unit.done[p] === undefined && !(unit.epoch === epoch && p === partition)) {
        joined = false;
        break;
      }
    }
    if (joined) return true;
  }
  return false;
}

/** Whether `partition`'s `reader.acked` for `epoch` is the last ack of the epoch being committed. */
export function completesCommit(context: SupervisorContext, epoch: number, partition: number): boolean {
  if (context.committing !== epoch || !context.commitSent) return false;
  const unit = context.units.find((candidate) => candidate.epoch === epoch);
  if (unit === undefined) return false;
  for (const p of unit.partitions) if (unit.acked[p] === undefined && p !== partition) return false;
  return true;
}

/** Whether a unit other than `epoch`'s has joined: it commits next once `epoch` is committed. */
export function hasJoinedBesides(units: readonly CommitUnit[], epoch: number): boolean {
  for (const unit of units) {
    if (unit.epoch === epoch) continue;
    let joined = true;
    for (const p of unit.partitions) {
      if (unit.done[p] === undefined) {
        joined = false;
        break;
      }
    }
    if (joined) return true;
  }
  return false;
}

export function unitTallies(unit: CommitUnit): EpochTallies {
  // Summed field by field: no intermediate tallies object per partition (issue 12: a commit's garbage).
  let messages = 0;
  let ok = 0;
  let fallback = 0;
  let dropped = 0;
  let retries = 0;
  for (const p of unit.partitions) {
    const done = unit.done[p];
    if (done === undefined) continue;
    messages += done.messages;
    ok += done.ok;
    fallback += done.fallback;
    dropped += done.dropped;
    retries += done.retries;
  }
  return { messages, ok, fallback, dropped, retries };
}

export function addCommitted(totals: readonly PartitionTotals[], unit: CommitUnit): PartitionTotals[] {
  return totals.map((total) => {
    const done = unit.done[total.partition];
    if (done === undefined) return total;
    // One object per committed partition, built in one go (no spread of an intermediate sum).
    return {
      partition: total.partition,
      messages: total.messages + done.messages,
      ok: total.ok + done.ok,
      fallback: total.fallback + done.fallback,
      dropped: total.dropped + done.dropped,
      retries: total.retries + done.retries,
      epochs: total.epochs + 1,
      acked: total.acked + (unit.acked[total.partition] ?? 0),
      protocolErrors: total.protocolErrors,
    };
  });
}

export function mapUnit(
  units: readonly CommitUnit[],
  epoch: number,
  change: (unit: CommitUnit) => CommitUnit,
): CommitUnit[] {
  return units.map((unit) => (unit.epoch === epoch ? change(unit) : unit));
}

/** `units` with `partition`'s `sink.epochDone` for `epoch` recorded. */
export function withEpochDone(units: readonly CommitUnit[], epoch: number, partition: number, tallies: EpochTallies): CommitUnit[] {
  return mapUnit(units, epoch, (unit) => ({ ...unit, done: { ...unit.done, [partition]: tallies } }));
}

/** `units` with `partition`'s `reader.acked` for `epoch` recorded (and the watermark it committed). */
export function withAck(units: readonly CommitUnit[], epoch: number, partition: number, count: number, watermark: number | undefined): CommitUnit[] {
  return mapUnit(units, epoch, (unit) =>
    watermark === undefined
      ? { ...unit, acked: { ...unit.acked, [partition]: count } }
      : { ...unit, acked: { ...unit.acked, [partition]: count }, watermarks: { ...unit.watermarks, [partition]: watermark } },
  );
}

/** What committing `unit` (taken from `units`) leaves in the context: it is gone, its tallies counted. */
export function afterCommit(
  context: SupervisorContext,
  units: readonly CommitUnit[],
  unit: CommitUnit,
): Pick<SupervisorContext, "units" | "committing" | "commitSent" | "totals" | "committedEpochs"> {
  return {
    units: units.filter((candidate) => candidate.epoch !== unit.epoch),
    committing: null,
    commitSent: false,
    totals: addCommitted(context.totals, unit),
    committedEpochs: context.committedEpochs + 1,
  };
}
