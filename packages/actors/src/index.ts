export { WeirError, ProtocolError } from "./errors.js";
export type { ProtocolErrorCode } from "./errors.js";
export type { Message, ReadEntry, SinkResult, RetryLaterResult, SinkAnswer, FinalStatus } from "./message.js";
export { actorIds, addTallies, emptyTallies } from "./epoch-protocol.js";
export type {
  BatchReadEvent,
  BatcherFillingEvent,
  BatcherFullEvent,
  CloseEpochEvent,
  CommitEvent,
  DataFrame,
  DrainEvent,
  EotFrame,
  EpochDoneEvent,
  EpochTallies,
  ProtocolErrorEvent,
  ReaderAckedEvent,
  ReaderDrainingEvent,
  ReaderFailedEvent,
  ReaderReadFailedEvent,
  SealedEvent,
  StopEvent,
} from "./epoch-protocol.js";
export { backoffDelay, defaultRetryPolicy, maxAttempts } from "./retry-policy.js";
export type { RetryPolicy } from "./retry-policy.js";
export { sinkSessionMachine, type ResultTimeoutEvent } from "./sink-session.machine.js";
export type {
  FallbackItem,
  FallbackWriteInput,
  SinkIoEvent,
  SinkSessionContext,
  SinkSessionInput,
  SinkWriteInput,
} from "./sink-session.types.js";
export { batcherMachine } from "./batcher.machine.js";
export type { BatcherContext, BatcherInput } from "./batcher.types.js";
export { partitionReaderMachine } from "./partition-reader.machine.js";
export type {
  AckInput,
  PartitionReaderContext,
  PartitionReaderInput,
  PartitionReaderSettings,
  PendingPages,
  ReadBatchInput,
  ReadBatchOutput,
  SealedEpoch,
} from "./partition-reader.types.js";
export { fromPartitionIo } from "./reader-io.js";
export { isNewerWatermark, laterWatermark } from "./watermark.js";
export type { AckRequest, PartitionIo, PauseRequest, ReaderIoEvent, ReaderIoInput, ReaderIoLogic, ReaderIoRequest, ReadRequest } from "./reader-io.js";
export { supervisorMachine } from "./supervisor.machine.js";
export type { EpochTimeoutEvent, PipelineDrainEvent } from "./supervisor.machine.js";
export type {
  CommitEpochInput,
  CommitMode,
  CommitUnit,
  PartitionControl,
  PartitionTotals,
  SupervisorContext,
  SupervisorEmitted,
  SupervisorInput,
  SupervisorOutput,
  SupervisorSettings,
} from "./supervisor.types.js";
export { fromSinkAttempts, fromSinkFunction, sinkFunctionAttempt } from "./sink-writer.js";
export type {
  SinkAttempt,
  SinkCancelRequest,
  SinkContext,
  SinkFunction,
  SinkWriteRequest,
  SinkWriterInput,
  SinkWriterLogic,
  SinkWriterRequest,
} from "./sink-writer.js";
export { windowKeeperMachine } from "./window-keeper.machine.js";
export type { WindowCommitEvent, WindowCloseReadyEvent, WindowKeeperContext, WindowKeeperEmitted, WindowKeeperEvent, WindowKeeperInput, WindowKeeperMachine } from "./window-keeper.machine.js";
export { fromWindowIo } from "./window-io.js";
export type { WindowIo, WindowIoEvent, WindowIoInput, WindowIoLogic, WindowIoRequest, WindowStep } from "./window-io.js";
