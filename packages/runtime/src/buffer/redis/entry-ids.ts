/** Stream entry ids `"<ms>-<seq>"`: order, and the id just below one (Redis buffer internals). */

/** Compares two stream entry ids `"<ms>-<seq>"` as Redis orders them (numerically, ms then seq). */
export function compareEntryIds(a: string, b: string): number {
  const da = a.indexOf("-");
  const db = b.indexOf("-");
  // The common case, two ids of one stream within the same few ms: same shape, and a native
  // string comparison orders them.
  if (da === db && a.length === b.length && canonical(a, da) && canonical(b, db)) return a < b ? -1 : a > b ? 1 : 0;
  if (canonical(a, da) && canonical(b, db)) {
    // Without leading zeros a longer number is larger, and equal lengths compare digit by digit;
    // no substring is allocated (this runs once per acked offset).
    if (da !== db) return da - db;
    for (let i = 0; i < da; i++) {
      const d = a.charCodeAt(i) - b.charCodeAt(i);
      if (d !== 0) return d;
    }
    const la = a.length;
    const lb = b.length;
    if (la !== lb) return la - lb;
    for (let i = da + 1; i < la; i++) {
      const d = a.charCodeAt(i) - b.charCodeAt(i);
      if (d !== 0) return d;
    }
    return 0;
  }
  const ms = compareDigits(a.slice(0, da), b.slice(0, db));
  return ms !== 0 ? ms : compareDigits(a.slice(da + 1), b.slice(db + 1));
}

/** Whether neither part of the id has a leading zero (Redis's own ids never do; "0" itself is fine). */
function canonical(id: string, dash: number): boolean {
  return (id.charCodeAt(0) !== 48 || dash === 1) && (id.charCodeAt(dash + 1) !== 48 || id.length === dash + 2);
}

/** Compares two decimal numbers given as digits (leading zeros allowed, as Redis allows them). */
function compareDigits(a: string, b: string): number {
  if (a.length <= 15 && b.length <= 15) return Number(a) - Number(b);
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Whether each id comes after the one before it in stream order (so they are sorted and distinct). */
export function strictlyInStreamOrder(ids: readonly string[]): boolean {
  for (let i = 1; i < ids.length; i++) if (compareEntryIds(ids[i - 1] as string, ids[i] as string) >= 0) return false;
  return true;
}

/** Whether the ids are in ascending stream order (one pass; a batch's offsets usually are). */
export function inStreamOrder(ids: readonly string[]): boolean {
  for (let i = 1; i < ids.length; i++) if (compareEntryIds(ids[i - 1] as string, ids[i] as string) > 0) return false;
  return true;
}

/** The greatest stream id below `id` (`"<ms>-<seq>"`): an exclusive XREADGROUP cursor that includes `id`. */
export function entryIdBefore(id: string): string {
  const dash = id.indexOf("-");
  const ms = BigInt(id.slice(0, dash));
  const seq = BigInt(id.slice(dash + 1));
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  return ms > 0n ? `${ms - 1n}-18446744073709551615` : "0-0";
}
