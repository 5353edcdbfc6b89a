/**
 * The {@link WindowStore} of a pipeline on the memory buffer: each partition's window state in a
 * Map, acked through the vertex's {@link MemoryBuffer} (`ackIfPendingFor`, synchronous), so the
 * ack and the state change happen in one step of this process. State lives as long as the store,
 * like the buffer's entries.
 *
 * @example
 * ```ts
 * const store = createMemoryWindowStore({ buffer, consumer: "worker-1" });
 * await store.commit(0, ["1", "2"], { set: new Map([["w:0", "{}"]]), remove: [] }, 999);
 * (await store.load(0)).watermark; // 999
 * ```
 */
import type { MemoryBuffer } from "../buffer/memory-buffer.js";
import type { StoredWindows, WindowStore } from "./window-store.js";
import type { WindowStateChange } from "./window-state.js";

export interface MemoryWindowStoreOptions {
  /** The reduce vertex's input buffer, whose offsets a commit acks. */
  readonly buffer: MemoryBuffer;
  /** The consumer that reads the input (the reader's consumer name). */
  readonly consumer: string;
}

interface PartitionState {
  readonly windows: Map<string, string>;
  watermark: number | undefined;
}

export function createMemoryWindowStore(options: MemoryWindowStoreOptions): WindowStore {
  const { buffer, consumer } = options;
  const partitions = new Map<number, PartitionState>();
  const stateOf = (partition: number): PartitionState => {
    let state = partitions.get(partition);
    if (state === undefined) {
      state = { windows: new Map(), watermark: undefined };
      partitions.set(partition, state);
    }
    return state;
  };

  return {
    async load(partition): Promise<StoredWindows> {
      const state = stateOf(partition);
      return { windows: new Map(state.windows), watermark: state.watermark };
    },
    async commit(partition, offsets, change: WindowStateChange, watermark) {
      // Same tick as the ack: nothing runs between them (see the module doc).
      const distinct = offsets.length <= 1 ? offsets.length : new Set(offsets).size;
      const acked = buffer.ackIfPendingFor(partition, consumer, offsets);
      if (acked < distinct) return acked;
      const state = stateOf(partition);
      for (const [field, json] of change.set) state.windows.set(field, json);
      for (const field of change.remove) state.windows.delete(field);
      if (watermark !== undefined) state.watermark = watermark;
      return acked;
    },
    async forget(partition, fields) {
      const state = stateOf(partition);
      for (const field of fields) state.windows.delete(field);
    },
    async close() {
      partitions.clear();
    },
  };
}
