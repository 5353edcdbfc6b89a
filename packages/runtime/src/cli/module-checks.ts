/**
 * What `weir run` loads before its pipeline starts, checked by `weir validate` too: every module a
 * spec names (udf, sink, fallback, schema) exists and has the export the spec names, and every
 * schema loads and compiles. Without this, validate said ✓ and run failed. Loading goes through
 * the same functions run uses (connectors/load-module.ts, pipeline/message-schema.ts); like run,
 * it runs the modules' top-level code.
 */
import { WeirError } from "@weir/actors";
import type { SpecIssue } from "../errors.js";
import { importExport } from "../connectors/load-module.js";
import { loadMessageValidator } from "../pipeline/message-schema.js";
import type { ModuleRef, PipelineSpec, SinkConnectorSpec } from "../spec/pipeline-spec.js";

interface ModuleUse {
  readonly field: string;
  readonly ref: ModuleRef;
  readonly what: string;
}

function moduleUses(spec: PipelineSpec): ModuleUse[] {
  const uses: ModuleUse[] = [];
  const sinkModule = (sink: SinkConnectorSpec | undefined, field: string, what: string) => {
    if (sink !== undefined && "module" in sink) uses.push({ field: `${field}.module`, ref: sink.module, what });
  };
  spec.spec.vertices.forEach((vertex, i) => {
    const at = `spec.vertices[${i}]`;
    if (vertex.kind === "udf" && "module" in vertex.udf) uses.push({ field: `${at}.udf.module`, ref: vertex.udf.module, what: `udf of vertex '${vertex.name}'` });
    if (vertex.kind === "sink") sinkModule(vertex.sink, `${at}.sink`, `sink of vertex '${vertex.name}'`);
    if (vertex.kind !== "source") sinkModule(vertex.fallback, `${at}.fallback`, `fallback of vertex '${vertex.name}'`);
  });
  return uses;
}

/** Every module and schema problem of `spec`, as spec issues naming the field and the fix. */
export async function checkModules(spec: PipelineSpec): Promise<SpecIssue[]> {
  const issues: SpecIssue[] = [];
  for (const use of moduleUses(spec)) {
    try {
      await importExport(use.ref.path, use.ref.export, use.what);
    } catch (error) {
      if (!(error instanceof WeirError)) throw error;
      const missingExport = error.code === "MODULE_EXPORT_MISSING";
      issues.push({
        path: `${use.field}.${missingExport ? "export" : "path"}`,
        message: error.message,
        hint: missingExport ? "set export: to one of the names the module exports" : "fix path: (relative paths resolve against the spec file)",
      });
    }
  }
  for (const [i, vertex] of spec.spec.vertices.entries()) {
    if (vertex.kind === "source" || vertex.schema === undefined) continue;
    try {
      await loadMessageValidator(vertex.name, vertex.schema);
    } catch (error) {
      if (!(error instanceof WeirError)) throw error;
      issues.push({ path: `spec.vertices[${i}].schema`, message: error.message, hint: "fix the schema's path or export, or the schema itself" });
    }
  }
  return issues;
}
