/**
 * What `weir why` prints (cli/commands/why.ts): the event time of a vertex as Redis holds it
 * (ui/redis-event-time.ts), as text for people or one JSON object. Loaded only by `weir why`.
 */
import { RedisConnection } from "../buffer/index.js";
import { bufferServerTls } from "../pipeline/buffer-factory.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import { END_OF_TIME, HOLD_MARK } from "../time/watermark.js";
import type { PartitionEventTimeDetail, VertexEventTimeDetail } from "../ui/redis-event-time.js";
import { readVertexEventTime } from "../ui/redis-event-time.js";
import { SERVER_TIME_LUA } from "../ui/worker-record.js";
import type { CliIO } from "./command.js";

export async function explainVertex(spec: PipelineSpec, vertexName: string, options: { readonly json: boolean; readonly io: CliIO }): Promise<number> {
  const buffer = spec.spec.buffer;
  if (buffer.type !== "redis") return 2;
  const tls = bufferServerTls(spec);
  const connection = new RedisConnection({ url: buffer.url, cluster: buffer.cluster, name: `weir-why:${spec.metadata.name}`, maxRetriesPerRequest: 1, ...(tls === undefined ? {} : { tls: tls.tls }) });
  try {
    const now = Number(await connection.client.eval(SERVER_TIME_LUA, 0));
    const vertex = spec.spec.vertices.find((candidate) => candidate.name === vertexName)!;
    // A source has no input buffer: what its partitions publish is seen by the vertices it writes to.
    const shown = vertex.kind === "source" ? spec.spec.edges.filter((edge) => edge.from === vertexName).map((edge) => edge.to) : [vertexName];
    const reports = await Promise.all(shown.map((name) => readVertexEventTime(connection.client, spec, name, now)));
    if (options.json) {
      options.io.stdout.write(`${JSON.stringify({ pipeline: spec.metadata.name, vertex: vertexName, at: now, ...(vertex.kind === "source" ? { source: true } : {}), inputs: reports })}\n`);
      return 0;
    }
    const lines = vertex.kind === "source" ? sourceLines(vertexName, reports, now) : vertexLines(reports[0]!, now, spec);
    options.io.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } catch (error) {
    options.io.stderr.write(`weir: why: could not read pipeline '${spec.metadata.name}' from Redis at ${buffer.url}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await connection.close();
  }
}

function vertexLines(report: VertexEventTimeDetail, now: number, spec: PipelineSpec): string[] {
  const lines = [`vertex '${report.vertex}' of pipeline '${spec.metadata.name}', as Redis holds it at ${iso(now)}:`];
  const slowest = [...report.partitions].filter((partition) => partition.watermark !== null).sort((a, b) => a.watermark! - b.watermark!)[0];
  const missing = report.partitions.filter((partition) => partition.watermark === null);
  if (missing.length > 0) lines.push(`  no watermark yet on partition${missing.length === 1 ? "" : "s"} ${missing.map((partition) => partition.partition).join(", ")}: that holds the vertex's watermark undefined`);
  else if (slowest !== undefined) lines.push(`  its watermark is partition ${slowest.partition}'s, the lowest: ${time(slowest.watermark!)}${lag(slowest)}`);
  for (const partition of report.partitions) lines.push(...partitionLines(partition, now));
  return lines;
}

function partitionLines(partition: PartitionEventTimeDetail, now: number): string[] {
  const lines = [`  partition ${partition.partition}: watermark ${partition.watermark === null ? "none yet" : time(partition.watermark)}${lag(partition)}${partition.since === null ? "" : `, risen last at ${iso(partition.since)} (${ago(now, partition.since)})`}${partition.reader === null ? "" : `, reader ${partition.reader}`}`];
  const holder = partition.heldBy;
  if (holder === null) lines.push("    nothing holds it back (no writers are expected)");
  else if (holder.watermark === null) lines.push(`    held back by writer '${holder.writer}': no mark from it yet (it has not committed an epoch with a watermark, or its worker is not running)`);
  else {
    const since = holder.since === null ? "" : ` since ${iso(holder.since)} (${ago(now, holder.since)})`;
    lines.push(`    held back by writer '${holder.writer}', processor '${holder.processor}', at ${time(holder.watermark)}${since}${holder.live ? "" : " — that processor stopped marking (dead?) and no live one replaced it"}`);
  }
  for (const view of partition.views) {
    const marks = view.state.writers.flatMap((writer) => writer.processors.map((processor) => `${writer.writer}@${processor.processor} ${time(processor.watermark)}${processor.live ? "" : " (dead)"}`));
    lines.push(`    reader ${view.consumer}${view.state.at === undefined ? "" : ` (last mark ${ago(now, view.state.at)})`}: ${marks.length === 0 ? "no marks yet" : marks.join(", ")}`);
  }
  if (partition.committed !== null) lines.push(`    committed with the window state: ${time(partition.committed)}`);
  if (partition.openWindows !== null) {
    const listed = partition.windows.map((window) => `[${window.keys.join(",")}] ${iso(window.start)}–${iso(window.end)}`);
    lines.push(`    open windows: ${partition.openWindows}${listed.length === 0 ? "" : `; ${listed.join("; ")}${partition.openWindows > listed.length ? "; …" : ""}`}`);
  }
  return lines;
}

function sourceLines(source: string, reports: readonly VertexEventTimeDetail[], now: number): string[] {
  const lines = [`vertex '${source}' is a source: each partition's watermark is the latest event time it read minus maxDelay (or idleSource's advance). What its downstream readers last met from it:`];
  for (const report of reports) {
    for (const partition of report.partitions) {
      for (const view of partition.views) {
        const marks = view.state.writers.filter((writer) => writer.writer.startsWith(`${source}/`));
        for (const writer of marks) for (const processor of writer.processors) lines.push(`  ${writer.writer}@${processor.processor} → ${report.vertex}[${partition.partition}]: ${time(processor.watermark)} (last mark ${ago(now, processor.writtenAt)}, held since ${ago(now, processor.since)})${processor.live ? "" : " (dead)"}`);
      }
    }
  }
  if (lines.length === 1) lines.push("  no marks met yet");
  return lines;
}

const iso = (ms: number) => new Date(ms).toISOString();
const time = (watermark: number) => (watermark >= END_OF_TIME ? "end of time (every writer ended)" : watermark <= HOLD_MARK ? "held (this worker has not marked yet)" : iso(watermark));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ago = (now: number, at: number) => `${seconds(Math.max(0, now - at))} ago`;
const lag = (partition: { readonly lagMs: number | null }) => (partition.lagMs === null ? "" : ` (lag ${seconds(partition.lagMs)})`);
