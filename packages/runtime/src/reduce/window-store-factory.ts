import type { PartitionedBuffer } from "../buffer/index.js";
import { MemoryBuffer } from "../buffer/memory-buffer.js";
import { RedisStreamBuffer } from "../buffer/redis/redis-stream-buffer.js";
import { createMemoryWindowStore } from "./memory-window-store.js";
import { createRedisWindowStore } from "./redis-window-store.js";
import type { WindowStore } from "./window-store.js";

/** The window store beside a reduce vertex's input buffer: its commits ack that buffer's offsets. */
export function createWindowStore(input: PartitionedBuffer, consumer: string): WindowStore {
  if (input instanceof MemoryBuffer) return createMemoryWindowStore({ buffer: input, consumer });
  if (input instanceof RedisStreamBuffer) return createRedisWindowStore({ buffer: input, consumer });
  throw new TypeError(`a reduce vertex needs a memory or Redis stream buffer as its input, not ${input.constructor.name}`);
}
