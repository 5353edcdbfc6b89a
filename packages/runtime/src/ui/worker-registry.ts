/**
 * Reads a deployment's workers from Redis for `weir ui` (and `weir run --ui` on a Redis buffer):
 * their records and beats (worker-record.ts), which are dead (no beat for `MISSED_BEATS_DEAD`
 * intervals, by the server's clock), the entries each consumer still holds pending
 * (XPENDING's per-consumer summary of every input partition), and, for a dead worker, the claims
 * live workers made on its partitions since its last beat.
 */
import type { RedisClient } from "../buffer/redis/redis-connection.js";
import { partitionKeys, workersKey } from "../buffer/redis/keys.js";
import { vertexBufferName } from "../pipeline/buffer-factory.js";
import type { PipelineSpec } from "../spec/pipeline-spec.js";
import type { PendingView, WorkerView } from "./dashboard-types.js";
import { BEAT_SUFFIX, MISSED_BEATS_DEAD, SERVER_TIME_LUA, type WorkerRecord } from "./worker-record.js";

export interface RegisteredWorker {
  readonly record: WorkerRecord;
  readonly view: WorkerView;
}

export async function readWorkers(client: RedisClient, spec: PipelineSpec): Promise<RegisteredWorker[]> {
  const buffer = spec.spec.buffer;
  if (buffer.type !== "redis") return [];
  const [fields, now] = await Promise.all([
    client.hgetall(workersKey(buffer.keyPrefix, spec.metadata.name)),
    client.eval(SERVER_TIME_LUA, 0).then(Number),
  ]);
  const records = parseRecords(fields);
  const pending = await pendingByConsumer(client, spec);
  const alive = (record: WorkerRecord, beat: number) => record.stopped !== true && now - beat <= MISSED_BEATS_DEAD * record.intervalMs;
  return records.map(({ record, beat }) => {
    const isAlive = alive(record, beat);
    const served = new Set(record.vertices.map((vertex) => vertex.name));
    const stopped = record.stopped === true;
    const claimedBy = isAlive || stopped
      ? []
      : records
          .filter((other) => other.record.id !== record.id)
          .flatMap((other) => other.record.claims.filter((claim) => served.has(claim.vertex) && claim.at >= beat).map((claim) => ({ ...claim, worker: other.record.id })));
    const view: WorkerView = {
      id: record.id,
      host: record.host,
      pid: record.pid,
      version: record.version,
      // The first beat is sent before its server time is known: its record says 0.
      startedAt: record.startedAt === 0 ? beat : record.startedAt,
      lastBeatAt: beat,
      alive: isAlive,
      stopped,
      vertices: record.vertices,
      pending: pending.get(record.id) ?? [],
      claimedBy,
    };
    return { record, view };
  });
}

function parseRecords(fields: Record<string, string>): Array<{ record: WorkerRecord; beat: number }> {
  const out: Array<{ record: WorkerRecord; beat: number }> = [];
  for (const [field, value] of Object.entries(fields)) {
    if (field.endsWith(BEAT_SUFFIX)) continue;
    try {
      const record = JSON.parse(value) as WorkerRecord;
      out.push({ record, beat: Number(fields[`${field}${BEAT_SUFFIX}`] ?? 0) });
    } catch {
      // A record this version cannot read (another version's): skip it rather than fail the page.
    }
  }
  return out.sort((a, b) => a.record.id.localeCompare(b.record.id));
}

/** Pending entries per consumer (worker id), over every input partition of the pipeline. */
async function pendingByConsumer(client: RedisClient, spec: PipelineSpec): Promise<Map<string, PendingView[]>> {
  const buffer = spec.spec.buffer;
  const byConsumer = new Map<string, PendingView[]>();
  if (buffer.type !== "redis") return byConsumer;
  const asks = spec.spec.vertices
    .filter((vertex) => vertex.kind !== "source")
    .flatMap((vertex) =>
      Array.from({ length: vertex.partitions }, async (_, partition) => {
        const group = vertexBufferName(spec, vertex.name);
        const stream = partitionKeys(buffer.keyPrefix, group, partition).stream;
        // XPENDING <stream> <group>: [count, smallest id, greatest id, [[consumer, count], …]]
        const summary = (await client.xpending(stream, group).catch(() => null)) as [number, string, string, Array<[string, string]> | null] | null;
        for (const [consumer, count] of summary?.[3] ?? []) {
          const list = byConsumer.get(consumer) ?? [];
          list.push({ vertex: vertex.name, partition, count: Number(count) });
          byConsumer.set(consumer, list);
        }
      }),
    );
  await Promise.all(asks);
  return byConsumer;
}
