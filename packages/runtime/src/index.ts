export { MemoryBuffer, BufferError } from "./buffer/index.js"; export type { PartitionedBuffer, ReadBatch, BufferUsage, BufferOptions } from "./buffer/index.js";

export { SpecError, UsageError, formatSpecIssue } from "./errors.js";
export type { SpecIssue, SpecErrorCode } from "./errors.js";
export { loadSpec, parseSpec } from "./spec/load-spec.js";
export type { LoadedSpec } from "./spec/load-spec.js";
export { pipelineJsonSchema } from "./spec/json-schema.js";
export { parseDuration } from "./spec/duration.js";
export { effectiveLimits, effectiveOnFailure } from "./spec/pipeline-spec.js";
export type {
  BackoffSpec,
  BufferSpec,
  CommitMode,
  EdgeSpec,
  GeneratorSpec,
  Limits,
  ModuleRef,
  OnFailure,
  OnFull,
  PipelineSpec,
  PipelineSpecInput,
  RetryStrategySpec,
  SinkConnectorSpec,
  SinkVertexSpec,
  SourceSpec,
  SourceVertexSpec,
  UdfSpec,
  UdfVertexSpec,
  VertexKind,
  VertexLimits,
  VertexSpec,
} from "./spec/pipeline-spec.js";
