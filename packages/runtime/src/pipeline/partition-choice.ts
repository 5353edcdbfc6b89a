/**
 * Which partition of the next vertex a message goes to: a hash of its keys when it has keys
 * (the same keys always land on the same partition), round-robin otherwise (even spread).
 */
export type PartitionChooser = (keys: readonly string[]) => number;

// FNV-1a, 32 bit: cheap, stable across processes and versions (Node's hash is not exposed).
export function hashKeys(keys: readonly string[]): number {
  let hash = 0x811c9dc5;
  for (let k = 0; k < keys.length; k += 1) {
    const key = keys[k]!;
    for (let i = 0; i < key.length; i += 1) {
      hash ^= key.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    hash ^= 0; // separator, so ["ab"] and ["a", "b"] differ
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function createPartitionChooser(partitions: number): PartitionChooser {
  let next = 0;
  return (keys) => {
    if (partitions === 1) return 0;
    if (keys.length > 0) return hashKeys(keys) % partitions;
    next = (next + 1) % partitions;
    return next;
  };
}
