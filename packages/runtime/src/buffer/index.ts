export { BufferError } from "./buffer-error.js";
export type { BufferErrorCode } from "./buffer-error.js";
export { bufferCapacity } from "./partitioned-buffer.js";
export type { BufferOptions, BufferUsage, PartitionedBuffer, ReadBatch, ReadOptions } from "./partitioned-buffer.js";
export { MemoryBuffer } from "./memory-buffer.js";
export type { BufferClock } from "./memory-buffer.js";
