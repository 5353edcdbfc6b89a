/**
 * Per-key order of arrivals, for the `ordered` tests (issue #15 part 2).
 *
 * An **inversion** is a message whose *first* arrival at a key's destination comes after the first
 * arrival of a later message (higher source sequence number) of the same key. A second arrival of
 * an id (a redelivery after a crash) is a duplicate, not an inversion: it is counted apart, and
 * the order of first arrivals alone decides.
 */
export interface Arrival {
  readonly key: string;
  /** The message's position in the source's read order. */
  readonly seq: number;
  readonly id: string;
}

export interface OrderReport {
  /** Distinct ids that arrived. */
  readonly arrived: number;
  /** Arrivals of an id that had already arrived. */
  readonly duplicates: number;
  readonly inversions: number;
  /** Up to 5 inversions, as "key: seq after seq". */
  readonly examples: readonly string[];
}

export function checkOrder(arrivals: Iterable<Arrival>): OrderReport {
  const seen = new Set<string>();
  const lastSeq = new Map<string, number>();
  let duplicates = 0;
  let inversions = 0;
  const examples: string[] = [];
  for (const arrival of arrivals) {
    if (seen.has(arrival.id)) {
      duplicates += 1;
      continue;
    }
    seen.add(arrival.id);
    const last = lastSeq.get(arrival.key);
    if (last !== undefined && arrival.seq < last) {
      inversions += 1;
      if (examples.length < 5) examples.push(`${arrival.key}: ${arrival.seq} after ${last}`);
    }
    if (last === undefined || arrival.seq > last) lastSeq.set(arrival.key, arrival.seq);
  }
  return { arrived: seen.size, duplicates, inversions, examples };
}

/** The generator's sequence number from its value `{"seq":17,…}`. */
export function seqOf(value: Uint8Array): number {
  const text = new TextDecoder().decode(value);
  const match = /"seq":(\d+)/.exec(text);
  if (match === null) throw new Error(`no seq in ${text}`);
  return Number(match[1]);
}
