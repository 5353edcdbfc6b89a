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
export { createPipeline } from "./pipeline/create-pipeline.js";
export type { Pipeline, PipelineOptions } from "./pipeline/create-pipeline.js";
export { fallbackHeaders } from "./pipeline/fallback-writer.js";
export { hashKeys } from "./pipeline/partition-choice.js";
export { createJsonLogger, silentLogger } from "./observability/logger.js";
export type { JsonLoggerOptions, LogFields, Logger, LogLevel } from "./observability/logger.js";
export type { RunSummary, VertexCounts } from "./observability/vertex-counters.js";
export { ConnectorError } from "./connectors/connector-error.js";
export type { ConnectorErrorCode } from "./connectors/connector-error.js";
export { createBuiltinSink, toJsonLine } from "./connectors/builtin-sinks.js";
export { createGeneratorSource } from "./connectors/generator-source.js";
export { isSinkConnector, sinkConnectorFromFunction } from "./connectors/sink-connector.js";
export type { SinkConnector } from "./connectors/sink-connector.js";
export type { SourceConnector } from "./connectors/source-connector.js";
export { catStage, loadMapStage, toMapStage } from "./udf/map-function.js";
export type { BatchMapFunction, MapContext, MapFunction, MapResult, MapStage } from "./udf/map-function.js";
