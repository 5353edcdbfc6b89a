export { FaultyBuffer } from "./faulty-buffer.js";
export type { BufferLatency, FailureOptions, InjectedFaults } from "./faulty-buffer.js";
export { createArraySource, makeMessages } from "./array-source.js";
export type { ArraySource, ArraySourceOptions } from "./array-source.js";
export {
  assertEveryInputDelivered,
  assertNothingAckedBeforeResult,
  assertNothingAckedTwice,
  assertPartitionsKeptApart,
} from "./assertions.js";
export { realClock } from "./clock.js";
export type { TestClock } from "./clock.js";
export { DeliveryLog } from "./delivery-log.js";
export type { DeliveryEvent } from "./delivery-log.js";
export { describeSystem, runVertex, StallError } from "./harness.js";
export type { RunVertexOptions, VertexRun } from "./harness.js";
export { createScriptedSink } from "./scripted-sink.js";
export type { AttemptInfo, Misbehaviour, ScriptedSink, ScriptedSinkOptions } from "./scripted-sink.js";
export { createRandom } from "./seeded-random.js";
export type { SeededRandom } from "./seeded-random.js";
export { assertTraceReplays, recordTrace, replayTrace, TraceDivergenceError } from "./trace.js";
export type { RecordedTrace, RecordTraceOptions, TraceInput } from "./trace.js";
