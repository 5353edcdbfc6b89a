/**
 * What a vertex's sink sessions write through: the user's or the spec's sink on a sink vertex, a
 * forwarder (with its udf) on a source or map vertex — wrapped by `ordered`, `retryLater` and the
 * message gate as the spec asks.
 */
import type { SinkFunction } from "@weir/actors";
import { createBuiltinSink } from "../connectors/builtin-sinks.js";
import { isSinkConnector, sinkConnectorFromFunction, type SinkConnector } from "../connectors/sink-connector.js";
import type { VertexSpec } from "../spec/pipeline-spec.js";
import { catStage, loadMapStage, toMapStage } from "../udf/map-function.js";
import { attemptObserver } from "../flow/rate-limited-read.js";
import { delayedSinkFunction, type DelayedRedeliveryOptions } from "../flow/delayed-sink.js";
import { keyOrderOf } from "../flow/ordered-options.js";
import { orderSinkConnector, orderSinkFunction } from "../flow/ordered-sink.js";
import { connectorOptions } from "./connector-options.js";
import { withDelayedAnswers } from "./delayed-answers.js";
import { observeSinkConnector, observeSinkFunction } from "./failure-observing-sink.js";
import { createForwarder } from "./forwarder.js";
import { forwardTargets } from "./forward-targets.js";
import { gateSinkConnector, gateSinkFunction } from "./gated-sink.js";
import type { MessageGate } from "./message-gate.js";
import type { PipelineRun } from "./pipeline-run.js";

export async function createVertexSink(
  run: PipelineRun,
  vertex: VertexSpec,
  udfTimeoutMs: number,
  gate: MessageGate | undefined,
  delayed: DelayedRedeliveryOptions | undefined,
): Promise<SinkConnector> {
  return vertex.kind === "sink" ? sinkVertexSink(run, vertex, gate, delayed) : forwardingSink(run, vertex, udfTimeoutMs, gate, delayed);
}

/** The adaptive rate limit's view of a vertex's attempts; passes functions through without one. */
const observedAttempts = (run: PipelineRun, vertex: VertexSpec) => attemptObserver(run.rateLimits.get(vertex.name));

async function sinkVertexSink(
  run: PipelineRun,
  vertex: Extract<VertexSpec, { kind: "sink" }>,
  gate: MessageGate | undefined,
  delayed: DelayedRedeliveryOptions | undefined,
): Promise<SinkConnector> {
  // `ordered` (flow/ordered-*.ts): the sink is called in per-key waves; the gate stays in front.
  // Under `ordered` a retryLater is retried within the epoch, so nothing is parked.
  const order = keyOrderOf(run.spec, vertex, run.logger, run.counts.get(vertex.name)!);
  const custom = run.options.sinks?.[vertex.name];
  if (custom === undefined) {
    // Every built-in sink but `process` is built from its function (sinkConnectorFromFunction);
    // a process sink's `write` serves fallback writes only, its frames go to the session.
    const fromFunction = !("process" in vertex.sink);
    const created = await createBuiltinSink(vertex.name, vertex.sink, connectorOptions(run, vertex));
    const builtin = fromFunction ? observedAttempts(run, vertex).observeConnector(observeSinkConnector(vertex.name, created, run.failures)) : created;
    // User code (a module or a process) may answer retryLater; Weir's own sinks never do.
    const answering =
      order !== undefined
        ? orderSinkConnector(vertex.name, builtin, order, fromFunction)
        : delayed === undefined || !("module" in vertex.sink || "process" in vertex.sink)
          ? builtin
          : withDelayedAnswers(builtin, delayed, fromFunction);
    return gate === undefined ? answering : gateSinkConnector(answering, gate, fromFunction);
  }
  if (isSinkConnector(custom)) {
    const connector = order === undefined ? custom : orderSinkConnector(vertex.name, custom, order, custom.write !== undefined);
    return gate === undefined ? connector : gateSinkConnector(connector, gate, order !== undefined);
  }
  const observed = observedAttempts(run, vertex).observe(observeSinkFunction(vertex.name, custom as SinkFunction, run.failures));
  const answering = order !== undefined ? orderSinkFunction(observed, order) : delayed === undefined ? observed : delayedSinkFunction(observed, delayed);
  return sinkConnectorFromFunction(gate === undefined ? answering : gateSinkFunction(answering, gate));
}

/** A source's or map's "sink": the forwarder, with the vertex's udf in front (none on a source). */
async function forwardingSink(
  run: PipelineRun,
  vertex: VertexSpec,
  udfTimeoutMs: number,
  gate: MessageGate | undefined,
  delayed: DelayedRedeliveryOptions | undefined,
): Promise<SinkConnector> {
  const order = keyOrderOf(run.spec, vertex, run.logger, run.counts.get(vertex.name)!);
  const customUdf = vertex.kind === "udf" ? run.options.udfs?.[vertex.name] : undefined;
  const stage =
    vertex.kind !== "udf"
      ? undefined
      : customUdf !== undefined
        ? toMapStage(customUdf, `udf of vertex '${vertex.name}'`)
        : await loadMapStage(vertex.name, vertex.udf, { ...connectorOptions(run, vertex), resultTimeout: udfTimeoutMs });
  if (stage?.kind === "batch" && stage.close !== undefined) run.closers.push(stage.close);
  const forward = observedAttempts(run, vertex).observe(createForwarder({
    vertex: vertex.name,
    ...(stage === undefined ? {} : { stage }),
    passThrough: stage === catStage,
    targets: forwardTargets(run, vertex),
    counts: run.counts.get(vertex.name)!,
    udfTimeoutMs,
    logger: run.logger.child({ vertex: vertex.name }),
    failures: run.failures,
    ...(order === undefined ? {} : { ordered: order }),
  }) as SinkFunction);
  // A udf may answer retryLater; a source's or cat's forwarder passes messages on and never does.
  const answering = order !== undefined || delayed === undefined || stage === undefined || stage === catStage ? forward : delayedSinkFunction(forward, delayed);
  return sinkConnectorFromFunction(gate === undefined ? answering : gateSinkFunction(answering, gate));
}
