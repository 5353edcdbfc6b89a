import path from "node:path";
import type { BufferSpec, MessageSchemaSpec, PipelineSpec, ProcessSpec, SinkConnectorSpec, UdfSpec, VertexSpec } from "./pipeline-spec.js";

/**
 * The spec with every file path absolute: udf and sink modules, jsonl sinks, fallbacks,
 * message schemas, the redis buffer's TLS files.
 * Relative paths are relative to `baseDir`, the spec file's directory (DESIGN §4), so a
 * pipeline runs the same from any working directory. Module `path`s are files, never
 * package names. A process's `cwd` resolves the same way and defaults to `baseDir`; its
 * `command` stays as written, so `[python3, sink.py]` finds `sink.py` next to the spec.
 */
export function resolveSpecPaths(spec: PipelineSpec, baseDir: string): PipelineSpec {
  const resolve = (file: string) => path.resolve(baseDir, file);
  const vertices = spec.spec.vertices.map((vertex): VertexSpec => {
    if (vertex.kind === "source") return vertex;
    const optional = {
      ...(vertex.fallback === undefined ? {} : { fallback: resolveConnector(vertex.fallback, resolve) }),
      ...(vertex.schema === undefined ? {} : { schema: resolveSchema(vertex.schema, resolve) }),
    };
    if (vertex.kind === "udf") return { ...vertex, udf: resolveUdf(vertex.udf, resolve), ...optional };
    return { ...vertex, sink: resolveConnector(vertex.sink, resolve), ...optional };
  });
  return { ...spec, spec: { ...spec.spec, buffer: resolveBuffer(spec.spec.buffer, resolve), vertices } };
}

function resolveBuffer(buffer: BufferSpec, resolve: (file: string) => string): BufferSpec {
  if (buffer.type !== "redis" || buffer.tls === undefined) return buffer;
  const { ca, cert, key } = buffer.tls;
  const tls = {
    ...buffer.tls,
    ...(ca === undefined ? {} : { ca: resolve(ca) }),
    ...(cert === undefined ? {} : { cert: resolve(cert) }),
    ...(key === undefined ? {} : { key: resolve(key) }),
  };
  return { ...buffer, tls };
}

function resolveUdf(udf: UdfSpec, resolve: (file: string) => string): UdfSpec {
  if ("module" in udf) return { module: { ...udf.module, path: resolve(udf.module.path) } };
  if ("process" in udf) return { process: resolveProcess(udf.process, resolve) };
  return udf;
}

function resolveProcess(spec: ProcessSpec, resolve: (file: string) => string): ProcessSpec {
  return { ...spec, cwd: resolve(spec.cwd ?? ".") };
}

function resolveConnector(sink: SinkConnectorSpec, resolve: (file: string) => string): SinkConnectorSpec {
  if ("jsonl" in sink) return { jsonl: { ...sink.jsonl, path: resolve(sink.jsonl.path) } };
  if ("module" in sink) return { module: { ...sink.module, path: resolve(sink.module.path) } };
  if ("process" in sink) return { process: resolveProcess(sink.process, resolve) };
  return sink;
}

function resolveSchema(schema: MessageSchemaSpec, resolve: (file: string) => string): MessageSchemaSpec {
  if ("module" in schema) return { module: { ...schema.module, path: resolve(schema.module.path) } };
  return { jsonSchema: { path: resolve(schema.jsonSchema.path) } };
}
