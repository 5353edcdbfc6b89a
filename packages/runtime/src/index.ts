export { MemoryBuffer, BufferError } from "./buffer/index.js"; export type { PartitionedBuffer, ReadBatch, BufferUsage, BufferOptions } from "./buffer/index.js";

export { SpecError, UsageError, formatSpecIssue } from "./errors.js";
export type { SpecIssue, SpecErrorCode } from "./errors.js";
export { loadSpec, parseSpec } from "./spec/load-spec.js";
export type { LoadedSpec } from "./spec/load-spec.js";
export { pipelineJsonSchema } from "./spec/json-schema.js";
export { parseDuration } from "./spec/duration.js";
export { effectiveLimits, effectiveOnFailure, effectiveOrdered } from "./spec/pipeline-spec.js";
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
  OrderedSpec,
  ProcessSpec,
  PipelineSpec,
  PipelineSpecInput,
  RedisTlsSpec,
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
export type { GroupBySpec, IdleSourceSpec, WatermarkSpec, WindowSpec } from "./spec/reduce-spec.js";
// What a module reducer is written against (docs/reduce.md).
export type { BatchReduceFunction, IncrementalReduceFunctions, ReduceContext, ReduceResults, ReduceWindow } from "./reduce/reducer.js";
export { createPipeline } from "./pipeline/create-pipeline.js";
export type { EventTimeUpdate, Pipeline, PipelineOptions } from "./pipeline/create-pipeline.js";
export { fallbackHeaders } from "./pipeline/fallback-writer.js";
export { choosePartition, createPartitionChooser, hashId, hashKeys } from "./pipeline/partition-choice.js";
export type { PartitionChooser } from "./pipeline/partition-choice.js";
// The forwarding step alone, without actors: what bench/scenarios/floor.ts drives with plain loops.
export { createForwarder } from "./pipeline/forwarder.js";
export { orderSinkFunction } from "./flow/ordered-sink.js";
export type { KeyOrderOptions } from "./flow/ordered-sink.js";
export { OrderedError } from "./flow/ordered-error.js";
export type { OrderedErrorCode } from "./flow/ordered-error.js";
export type { ForwardTarget, ForwarderOptions } from "./pipeline/forwarder.js";
export { emptyCounts } from "./observability/vertex-counters.js";
export { createJsonLogger, silentLogger } from "./observability/logger.js";
export type { JsonLoggerOptions, LogFields, Logger, LogLevel } from "./observability/logger.js";
export type { RunSummary, VertexCounts } from "./observability/vertex-counters.js";
export { ConnectorError } from "./connectors/connector-error.js";
export type { ConnectorErrorCode } from "./connectors/connector-error.js";
export { createBuiltinSink, toJsonLine } from "./connectors/builtin-sinks.js";
export { createGeneratorSource } from "./connectors/generator-source.js";
export { isSinkConnector, sinkConnectorFromFunction } from "./connectors/sink-connector.js";
// A sink function or forwarder answering "all ok" without one result per message (issue 12).
export { ALL_OK, allOkFormOf, okResults, withAllOkForm } from "./connectors/all-ok-answer.js";
export type { AllOk, AllOkSinkFunction } from "./connectors/all-ok-answer.js";
export type { SinkConnector } from "./connectors/sink-connector.js";
export type { SourceConnector } from "./connectors/source-connector.js";
export { catStage, loadMapStage, toMapStage } from "./udf/map-function.js";
export type { BatchMapAnswer, BatchMapFunction, MapContext, MapFunction, MapResult, MapStage, MapStageOptions, RetryLaterAnswer } from "./udf/map-function.js";
export { createTraceRecorder } from "./observability/trace-recorder.js";
export type { TraceRecorder, TraceRecorderOptions, TraceRecorderStats } from "./observability/trace-recorder.js";
export { createTraceFileWriter } from "./observability/trace-file-writer.js";
export type { TraceFileWriter, TraceFileWriterOptions, TraceFileWriterStats } from "./observability/trace-file-writer.js";
export { replayTrace, weirMachines } from "./observability/trace-replay.js";
export type { ReplayDivergence, ReplayOptions, ReplayResult } from "./observability/trace-replay.js";
export { readTraceFile, parseTraceLines } from "./observability/read-trace-file.js";
export { encodeTraceJson, isStimulus, parseTraceLine, reviveTraceValue, summarizeForTrace, traceFormat } from "./observability/trace-format.js";
export type { TraceEvent, TracePayloads, TraceRecord, TraceStimulus } from "./observability/trace-format.js";
export { actorPath } from "./observability/actor-path.js";
export { RedisStreamBuffer, RedisConnection, redisOptionsFromUrl, reconnectDelay, DEFAULT_RECONNECT_BACKOFF, DEFAULT_KEY_PREFIX, partitionKeys } from "./buffer/index.js";
export type { RedisStreamBufferOptions, RedisConnectionOptions, ReconnectBackoff, RedisClient, PartitionKeys, BufferErrorCode } from "./buffer/index.js";
export { createRedisStreamSource, DEFAULT_STREAM_FIELDS } from "./connectors/redis-stream-source.js";
export type { RedisStreamSourceOptions, RedisStreamFieldNames } from "./connectors/redis-stream-source.js";
export { createRedisStreamSink } from "./connectors/redis-stream-sink.js";
export type { RedisStreamSinkOptions } from "./connectors/redis-stream-sink.js";
export { createProcessSink } from "./connectors/process/process-sink.js";
export type { ProcessSinkOptions } from "./connectors/process/process-sink.js";
export { createProcessMapStage } from "./connectors/process/process-map.js";
export type { ProcessMapOptions } from "./connectors/process/process-map.js";
export { combineInspectors } from "./observability/combine-inspectors.js";
export type { InspectionObserver } from "./observability/combine-inspectors.js";
export { createPipelineMetrics } from "./observability/pipeline-metrics.js";
export type { EventTimeMetrics, PartitionUsage, PipelineMetrics, PipelineMetricsOptions } from "./observability/pipeline-metrics.js";
export { startMetricsServer } from "./observability/metrics-server.js";
export type { MetricsServer } from "./observability/metrics-server.js";
export { startLiveInspector, trimInspection } from "./observability/live-inspector.js";
export type { LiveInspector, LiveInspectorOptions } from "./observability/live-inspector.js";
export { startInspectorServer } from "./observability/inspector-server.js";
export type { InspectorServer, InspectorServerOptions, InspectorServerStats } from "./observability/inspector-server.js";
export { ObservabilityError } from "./observability/observability-error.js";
export type { ObservabilityErrorCode } from "./observability/observability-error.js";
export { createExactlyOnceJsonlSink } from "./connectors/exactly-once-jsonl-sink.js";
export { JsonlSinkError } from "./connectors/jsonl-sink-error.js";
export { MessageSchemaError } from "./pipeline/message-schema-error.js";
