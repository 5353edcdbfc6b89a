/**
 * Builds and runs a pipeline from its spec: one input buffer per non-source vertex, one
 * supervisor actor per vertex (with its readers, batchers and sink sessions), and the
 * end-of-stream cascade that ends a bounded run.
 *
 *   source ──forwarder──▶ [buffer: enrich × P] ──reader/batcher/session──▶ forwarder ──▶ [buffer: out × Q] ──▶ sink
 *
 * A vertex whose supervisor stops declares end of stream to the buffers it writes; a reader
 * that finds its buffer ended and empty drains its vertex; so a bounded run ends vertex by
 * vertex, every epoch committed. `drain()` drains the sources and lets the same cascade finish
 * the rest, so nothing in an in-memory buffer is lost. A message's way through these parts, file
 * by file: docs/data-path.md.
 */
import type { LoadedSpec } from "../spec/load-spec.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import { createPipelineRun } from "./create-pipeline-run.js";
import { liveReadings } from "./live-readings.js";
import type { Pipeline, PipelineOptions } from "./pipeline-options.js";
import { createPipelineDrain } from "./pipeline-drain.js";
import { selectVertices } from "./select-vertices.js";
import { startPipeline } from "./start-pipeline.js";
import { endRunWithLastVertex } from "./vertex-completion.js";

export type { EventTimeUpdate, Pipeline, PipelineOptions } from "./pipeline-options.js";

export function createPipeline(loaded: LoadedSpec | PipelineSpec, options: PipelineOptions = {}): Pipeline {
  const isLoaded = "spec" in loaded && "baseDir" in loaded;
  const spec = isLoaded ? loaded.spec : (loaded as PipelineSpec);
  const vertices = selectVertices(spec, options.vertices);
  // The run's shared state and its one end (counters, buffers, actors, the summary).
  const run = createPipelineRun(spec, vertices, options);
  const drain = createPipelineDrain(run, vertices);
  // A completed vertex declares end of stream downstream; the last one to end ends the run.
  const onVertexDone = endRunWithLastVertex(run, vertices, drain.requested);
  return {
    name: run.name,
    spec,
    consumer: run.consumer,
    actors: run.actors,
    ...liveReadings(run),
    start: () => startPipeline(run, { vertices, specFile: isLoaded ? loaded.file : undefined, drain, onVertexDone }),
    drain: () => drain.request(),
    stop: (reason = "stopped before completion") => void run.end("failed", reason),
  };
}
