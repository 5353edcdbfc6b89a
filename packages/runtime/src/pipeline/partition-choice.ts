/**
 * Which partition of the next vertex a message goes to (DESIGN §10): a hash of its keys when it
 * has keys (the same keys always land on the same partition), a hash of its id otherwise.
 *
 * Both are pure functions of what survives redelivery. Buffer dedup is per partition, so a
 * message that a crashed worker wrote downstream and another worker re-forwards must land on
 * the same partition again, or the dedup set that saw it is never asked (issue #10 item 1: a
 * per-process round-robin counter sent 1,040 of 30,000 keyless messages twice after 8 kills).
 */
export type PartitionChooser = (keys: readonly string[], id: string) => number;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

// FNV-1a, 32 bit, over UTF-16 code units: cheap, stable across processes and versions (Node's hash is not exposed).
function fnv1a(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h;
}

export function hashKeys(keys: readonly string[]): number {
  let hash = FNV_OFFSET;
  for (let k = 0; k < keys.length; k += 1) {
    hash = fnv1a(hash, keys[k]!);
    hash ^= 0; // separator, so ["ab"] and ["a", "b"] differ
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** The hash of a message id (FNV-1a, as for keys). */
export function hashId(id: string): number {
  return fnv1a(FNV_OFFSET, id) >>> 0;
}

/** The partition of a message with `keys` and `id` among `partitions`. */
export function choosePartition(partitions: number, keys: readonly string[], id: string): number {
  if (partitions === 1) return 0;
  return (keys.length > 0 ? hashKeys(keys) : hashId(id)) % partitions;
}

export function createPartitionChooser(partitions: number): PartitionChooser {
  return (keys, id) => choosePartition(partitions, keys, id);
}
