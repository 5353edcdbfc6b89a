/**
 * Lets one suspect entry run alone in this process. A message that kills its worker takes every
 * other entry in flight in the process with it, and Redis counts one more delivery for each of
 * them: a delivery count cannot tell the killer from its neighbours. So an entry that was in
 * flight at several deaths (a *suspect*, see redelivery-guard.ts) is handed out only when nothing
 * else read from a buffer is in flight in this process, and nothing else is handed out until it
 * is acked. If it kills the process again, only its own count grows.
 *
 *   normal reads ──(no suspect waiting or out)──▶ hand out
 *   suspect ──waits for quiet (in flight = 0)──▶ out alone ──ack──▶ released
 *
 * Readers of a vertex downstream (in this process) of work that is still in flight, or of the
 * suspect's vertex, keep reading: that work may be waiting for room in their input buffer, and
 * pausing them would wait forever. Their entries may then share a death with the suspect.
 *
 * A read under way counts as in flight (`readStarted` … `readEnded`): it passed `mayHandOut`
 * before the suspect was granted, and what it brings back would otherwise go out beside the
 * suspect and share its death (fault trial 10.2: an innocent suspect reached maxDeliveries so).
 */
import { monotonicNow } from "../time/monotonic-clock.js";

/** Where an isolated suspect is: its vertex, partition and offset (set once it was read). */
export interface IsolationHolder {
  readonly vertex: string;
  readonly partition: number;
  offset: string | undefined;
}

export class IsolationCoordinator {
  private readonly inFlight = new Map<string, number>();
  private readonly upstreams: ReadonlyMap<string, ReadonlySet<string>>;
  private readonly waitingParts = new Set<string>();
  private readonly wakers = new Set<() => void>();
  private holder: IsolationHolder | undefined;
  /** Reads that may hand out entries other than a granted suspect, under way. */
  private reading = 0;

  /** `upstreams`: for each vertex of this process, the vertices of this process upstream of it (transitively). */
  constructor(upstreams: ReadonlyMap<string, ReadonlySet<string>>) {
    this.upstreams = upstreams;
  }

  /** Whether `vertex` may hand out entries that are not suspects. */
  mayHandOut(vertex: string): boolean {
    if (this.holder === undefined && this.waitingParts.size === 0) return true;
    for (const upstream of this.upstreams.get(vertex) ?? []) {
      if ((this.inFlight.get(upstream) ?? 0) > 0 || this.holder?.vertex === upstream) return true;
    }
    return false;
  }

  /**
   * Asks to hand out a suspect of (vertex, partition) alone. Returns the holder to fill in when
   * granted (nothing else is in flight), else registers the wish (pausing other readers) and
   * returns undefined: ask again later.
   */
  tryIsolate(vertex: string, partition: number): IsolationHolder | undefined {
    const key = `${vertex}\u0000${partition}`;
    if (this.holder !== undefined || this.reading > 0 || this.totalInFlight() > 0) {
      this.waitingParts.add(key);
      return undefined;
    }
    this.waitingParts.delete(key);
    this.holder = { vertex, partition, offset: undefined };
    return this.holder;
  }

  /** Withdraws a wish to isolate (the suspect went away). */
  withdraw(vertex: string, partition: number): void {
    if (this.waitingParts.delete(`${vertex}\u0000${partition}`)) this.wake();
  }

  /** Gives up a grant that read nothing. */
  release(holder: IsolationHolder): void {
    if (this.holder === holder) {
      this.holder = undefined;
      this.wake();
    }
  }

  /** A read that `mayHandOut` allowed starts: no suspect is granted until it ends. */
  readStarted(): void {
    this.reading += 1;
  }

  /** That read ended, handing out `count` entries of `vertex` (0: nothing, or it failed). */
  readEnded(vertex: string, count: number): void {
    this.reading = Math.max(0, this.reading - 1);
    this.handedOut(vertex, count);
    // A suspect waiting for quiet asks again.
    if (this.reading === 0 && this.waitingParts.size > 0) this.wake();
  }

  /** `count` entries of `vertex` were handed out. */
  handedOut(vertex: string, count: number): void {
    if (count > 0) this.inFlight.set(vertex, (this.inFlight.get(vertex) ?? 0) + count);
  }

  /** Offsets of `vertex`/`partition` were acked: they are no longer in flight; an isolated one is released. */
  acked(vertex: string, partition: number, offsets: readonly string[]): void {
    this.inFlight.set(vertex, Math.max(0, (this.inFlight.get(vertex) ?? 0) - offsets.length));
    const holder = this.holder;
    if (holder !== undefined && holder.vertex === vertex && holder.partition === partition && holder.offset !== undefined && offsets.includes(holder.offset)) {
      this.holder = undefined;
    }
    this.wake();
  }

  /** Resolves on the next change (an ack, a release), after `ms`, or when `signal` aborts. */
  wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true || ms <= 0) return Promise.resolve();
    const until = monotonicNow() + ms;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, until - monotonicNow()));
      this.wakers.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  private totalInFlight(): number {
    let total = 0;
    for (const count of this.inFlight.values()) total += count;
    return total;
  }

  private wake(): void {
    for (const wake of [...this.wakers]) wake();
  }
}

/** For each vertex in `names`, the vertices among `names` upstream of it, transitively. */
export function inProcessUpstreams(names: readonly string[], edges: ReadonlyArray<{ readonly from: string; readonly to: string }>): Map<string, Set<string>> {
  const local = new Set(names);
  const direct = new Map<string, string[]>();
  for (const edge of edges) {
    if (local.has(edge.from) && local.has(edge.to)) direct.set(edge.to, [...(direct.get(edge.to) ?? []), edge.from]);
  }
  const result = new Map<string, Set<string>>();
  for (const name of names) {
    const seen = new Set<string>();
    const stack = [...(direct.get(name) ?? [])];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(direct.get(next) ?? []));
    }
    result.set(name, seen);
  }
  return result;
}
