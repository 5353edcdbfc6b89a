/**
 * The pipeline spec users write (DESIGN §4), as one zod 4 schema.
 *
 * Numaflow's shape, with every object strict so a typo is an error, not a silently ignored key.
 * Input types allow the short forms users write (durations as text, defaulted fields absent);
 * output types are what the runtime reads: durations in ms, every default filled, each vertex
 * tagged with its `kind`, and retry settings complete on udf and sink vertices.
 *
 *   metadata.name ─ spec ─┬─ buffer        memory | redis (tls for rediss://)
 *                         ├─ limits        defaults for every vertex
 *                         ├─ vertices[]    exactly one of source | udf | sink
 *                         └─ edges[]       from → to, optional tag conditions
 *
 * Cross-field rules (unique names, edges between known vertices, no cycles…) live in
 * vertex-rules.ts, graph-rules.ts, bullmq-rules.ts and buffer-rules.ts.
 */
import { z } from "zod";
import { durationSchema as duration } from "./duration.js";
import { exactlyOneIssues, oneOfKeys, requireExactlyOne, type OneOf } from "./exactly-one.js";
import { graphIssues } from "./graph-rules.js";
import { bufferTlsIssues } from "./buffer-rules.js";
import { bullmqUrlIssues, withBullmqUrls } from "./bullmq-rules.js";
import { ALWAYS, reportDrafts } from "./issue-draft.js";
import { VERTEX_ROLES, vertexIssues } from "./vertex-rules.js";
import { rateLimitIssues, rateLimitSchema } from "../flow/rate-limit-spec.js";
import { orderedIssues, orderedVertexIssues } from "./ordered-rules.js";
import { groupBySchema, watermarkSchema, type GroupBySpec } from "./reduce-spec.js";
import { reduceVertexIssues } from "./reduce-rules.js";

// Kubernetes' DNS-1123 label: names end up in Redis keys, metrics labels and file names.
const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

const dnsName = (what: string) =>
  z
    .string()
    .max(63, { error: `must be at most 63 characters` })
    .regex(NAME_PATTERN, { error: `must be ${NAME_RULE}` })
    .describe(`${what}: ${NAME_RULE}`);

// ── limits ───────────────────────────────────────────────────────────────────────────────

const onFullSchema = z.enum(["retryUntilSuccess", "discardLatest"]);

const limitFields = {
  readBatchSize: z.number().int().min(1).max(100_000).describe("Most messages a partition reader reads per batch: an integer from 1 to 100000."),
  readTimeout: duration.describe(`Longest an epoch stays open waiting for a full batch: a duration like "100ms".`),
  bufferMaxLength: z.number().int().min(1).describe("Most entries one buffer partition holds: an integer ≥ 1."),
  bufferUsageLimit: z.number().gt(0).lte(1).describe("Share of bufferMaxLength at which a partition counts as full: a number in (0, 1]."),
  maxInflightEpochs: z.number().int().min(1).max(64).describe("Most epochs a vertex keeps uncommitted at once: an integer from 1 to 64."),
  onFull: onFullSchema.describe("What a writer does when the next buffer is full: retryUntilSuccess or discardLatest."),
  resultTimeout: duration.describe(`Longest a sink session waits for an epoch's results: a duration like "30s".`),
  maxMessageSize: z
    .number()
    .int()
    .min(1)
    .describe("Largest message value a udf or sink vertex accepts, in bytes; a larger one goes to the fallback as oversized. No limit when unset."),
  maxDeliveries: z
    .number()
    .int()
    .min(1)
    .max(1_000)
    .describe(
      "Redis buffers: how many times a message may be delivered to workers that died (or stalled past claimIdle) while processing it; past it, it goes to the fallback with the reason instead of killing the next worker. An integer from 1 to 1000.",
    ),
  // flow/rate-limit-spec.ts; a vertex's rateLimit replaces the pipeline's as a whole.
  rateLimit: rateLimitSchema,
};

const limitsSchema = z
  .strictObject({
    readBatchSize: limitFields.readBatchSize.default(500),
    readTimeout: limitFields.readTimeout.default(100),
    bufferMaxLength: limitFields.bufferMaxLength.default(30_000),
    bufferUsageLimit: limitFields.bufferUsageLimit.default(0.8),
    maxInflightEpochs: limitFields.maxInflightEpochs.default(2),
    onFull: limitFields.onFull.default("retryUntilSuccess"),
    resultTimeout: limitFields.resultTimeout.default(30_000),
    // No default: no size limit unless one is set.
    maxMessageSize: limitFields.maxMessageSize.optional(),
    maxDeliveries: limitFields.maxDeliveries.default(3),
    // No default: no rate limit unless one is set.
    rateLimit: limitFields.rateLimit.optional(),
  })
  .describe("Limits for every vertex; a vertex's own `limits` override them field by field.");

// No defaults here: an absent field means "inherit spec.limits" (see effectiveLimits).
const vertexLimitsSchema = z
  .strictObject(limitFields)
  .partial()
  .describe("Overrides of spec.limits for this vertex's input buffer and reader.");

// ── buffer ───────────────────────────────────────────────────────────────────────────────

// Files, not PEM text: a spec is checked in, certificates and keys are not. Read at validation
// and again when the pipeline starts (tls-files.ts); cross-field rules in buffer-rules.ts.
const redisTlsSchema = z
  .strictObject({
    ca: z
      .string()
      .min(1)
      .optional()
      .describe("PEM file of the CA (or CA bundle) that signed the server's certificate, relative to the spec file; replaces Node's default CAs for this server."),
    cert: z.string().min(1).optional().describe("PEM file of the client certificate, relative to the spec file, for a server with tls-auth-clients yes; needs key."),
    key: z.string().min(1).optional().describe("PEM file of the client certificate's private key, relative to the spec file; needs cert."),
    servername: z
      .string()
      .min(1)
      .optional()
      .describe("Host name to send (SNI) and to check the server's certificate against, when it differs from the URL's host."),
  })
  .describe("TLS settings for rediss:// URLs: a private CA, a client certificate. Apply to every rediss:// connection to the buffer's server (host and port of url).");

const bufferSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("memory") }).describe("In-process buffers: no setup, one process, lost on exit."),
    z
      .strictObject({
        type: z.literal("redis"),
        url: z
          .string()
          .regex(/^rediss?:\/\/\S+$/, { error: 'must be a Redis URL starting with "redis://" or "rediss://"' })
          .describe('Redis URL, e.g. "redis://127.0.0.1:6379" ("rediss://" for TLS).'),
        keyPrefix: z
          .string()
          .regex(/^[^{}\s]+$/, { error: "must be non-empty, without spaces, '{' or '}'" })
          .default("weir")
          // Weir adds its own {hash tag} per partition; a brace in the prefix would change the slot.
          .describe("Prefix of every Redis key Weir writes; no spaces or braces."),
        cluster: z.boolean().default(false).describe("Connect to a Redis Cluster through the node in `url`."),
        claimIdle: duration.default(30_000).describe("How long an entry stays pending before another consumer claims it."),
        dedupWindow: duration.default(600_000).describe("How long a forwarded message id is at least remembered to drop duplicate writes (the Redis buffer keeps it for less than twice this)."),
        framed: z
          .boolean()
          .optional()
          .describe(
            "Default true: each partition-write is one stream entry holding its messages (about half the Redis CPU per message); false: one entry per message. Capacity and maxDeliveries still count messages; pending counts, claims and XPENDING count entries. Reduce vertices' inputs stay one entry per message.",
          ),
        tls: redisTlsSchema.optional(),
      })
      .describe("Redis streams, one per partition: durable, shared by every worker process."),
  ])
  .default({ type: "memory" })
  .describe("Where edges keep their messages: memory (default) or redis.");

// ── sources, udfs, sinks ─────────────────────────────────────────────────────────────────

/** The most partitions a vertex may have (see bench/partitions.ts and the README). */
export const MAX_PARTITIONS = 256;

const generatorSchema = z
  .strictObject({
    total: z.number().int().min(0).optional().describe("Messages to generate in all; when set the run is bounded and ends once they are committed."),
    rpu: z.number().int().min(1).default(5).describe("Messages generated per `duration`: an integer ≥ 1."),
    duration: duration.default(1_000).describe("The period `rpu` is counted over."),
    msgSize: z.number().int().min(0).default(8).describe("Bytes in each message value: its JSON padded with spaces (never cut short)."),
    keyCount: z.number().int().min(0).default(0).describe("Distinct keys spread over the messages; 0 sends them without keys."),
    value: z.number().int().optional().describe('A fixed integer written into every value: {"value":<value>,"seq":<seq>} instead of {"seq":<seq>,"partition":<p>}.'),
    jitter: duration
      .optional()
      .describe("Makes event times arrive out of order: each message's event time is shifted back at random by less than this. Keep it within spec.watermark.maxDelay, or shifted messages are late."),
  })
  .describe("Generates messages at a fixed rate, for demos and load tests.");

// A BullMQ queue (https://docs.bullmq.io), as source, sink or dead-letter queue. Its keys are
// BullMQ's own (`<prefix>:<queue>:…`), so BullMQ apps can produce to it or consume from it.
const bullmqSchema = z
  .strictObject({
    queue: z
      .string()
      .min(1)
      .regex(/^[^:]+$/, { error: "must not contain ':' (BullMQ builds its keys with it)" })
      .describe("Name of the BullMQ queue; no ':'."),
    url: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, { error: 'must be a Redis URL starting with "redis://" or "rediss://"' })
      .optional()
      .describe("Redis URL of the queue; defaults to buffer.url when the buffer is redis, required otherwise."),
    prefix: z
      .string()
      .regex(/^\S+$/, { error: "must be non-empty, without spaces" })
      .default("bull")
      .describe("BullMQ's key prefix (its `prefix` option): bull unless the queue's other users set another."),
  })
  .describe("A BullMQ queue: one job per message, the job id derived from the message id.");

const redisUrlSchema = z
  .string()
  .regex(/^rediss?:\/\/\S+$/, { error: 'must be a Redis URL starting with "redis://" or "rediss://"' })
  .describe('Redis URL, e.g. "redis://127.0.0.1:6379".');

// An existing Redis stream (or one per partition) read through a consumer group; entries are
// acked once their epoch commits.
const redisStreamSourceSchema = z
  .strictObject({
    url: redisUrlSchema,
    stream: z.string().min(1).optional().describe("The stream to read, for a vertex with one partition."),
    streams: z.array(z.string().min(1)).min(1).optional().describe("One stream per partition: partition p reads streams[p]."),
    group: z.string().min(1).optional().describe("Consumer group; default weir-<pipeline>-<vertex>. Created if missing."),
    startFrom: z.enum(["0", "$"]).default("0").describe('Where a new group starts: "0" the whole stream, "$" only new entries.'),
    endWhenEmpty: z.boolean().default(false).describe("End the partition once a read waited readTimeout and found nothing (a bounded run over a stream)."),
  })
  .describe("Reads existing Redis streams through a consumer group.");

const sourceSchema = oneOfKeys("a source", { generator: generatorSchema, bullmq: bullmqSchema, redisStream: redisStreamSourceSchema }).describe(
  "Where messages come from: { generator: {…} }, { bullmq: { queue } } (a queue's jobs, completed once committed) or { redisStream: { url, stream } }.",
);

const moduleRefSchema = z
  .strictObject({
    path: z.string().min(1).describe("File of the module (.js, .mjs or .ts), relative to the spec file."),
    export: z.string().min(1).default("default").describe("Name of the export to use."),
  })
  .describe("A function exported by a module of yours.");

// An external process in any language, one per partition, speaking NDJSON over stdio
// (docs/protocol.md). `command` is run as given (no shell); `cwd` defaults to the spec's directory.
const processSchema = z
  .strictObject({
    command: z
      .array(z.string().min(1))
      .min(1)
      .describe("Program and arguments, e.g. [python3, sink.py]; run without a shell, in cwd."),
    env: z.record(z.string(), z.string()).optional().describe("Environment variables added to Weir's own."),
    cwd: z.string().min(1).optional().describe("Working directory, relative to the spec file; the spec file's directory by default."),
    startTimeout: duration.optional().describe(`Longest wait for the process's ready frame after Weir's hello: a duration like "10s" (default 30s).`),
  })
  .describe("An external process, one per partition, speaking NDJSON frames over stdio (docs/protocol.md).");

const UDF_FUNCTIONS = ["builtin", "module", "process"];

const udfFunctionShape = {
  builtin: z.strictObject({
    name: z.enum(["cat", "count", "sum"]).describe("A built-in function: cat (passes messages through); with groupBy, count or sum (of `field`) per window."),
    field: z.string().min(1).optional().describe("sum only: the top-level JSON number field of each message's value to add up."),
  }),
  module: moduleRefSchema,
  process: processSchema,
};

// Exactly one function; `groupBy` beside it makes the udf a reduce vertex (reduce-spec.ts).
const udfSchema = z
  .strictObject({ ...udfFunctionShape, groupBy: groupBySchema })
  .partial()
  .meta(requireExactlyOne(UDF_FUNCTIONS))
  .superRefine((value, ctx) => reportDrafts(ctx, exactlyOneIssues("a udf", UDF_FUNCTIONS, value, ctx.issues)), ALWAYS)
  .describe("The function: { builtin: { name: cat } }, { module: { path, export } } or { process: { command } }; with groupBy: { window, … } it reduces per window.");

type UdfFunction = OneOf<{ [K in keyof typeof udfFunctionShape]?: z.output<(typeof udfFunctionShape)[K]> }>;

const sinkConnectorShape = {
  log: z.strictObject({}).describe("Logs each message to stdout."),
  blackhole: z.strictObject({}).describe("Discards every message (benchmarks)."),
  jsonl: z
    .strictObject({
      path: z.string().min(1).describe("Output file, relative to the spec file."),
      exactlyOnce: z
        .boolean()
        .default(false)
        .describe(
          "Write each epoch's lines in one append when the epoch commits, skipping ids the file already holds: a crash never leaves part of an epoch or a duplicate line. Needs one writer process per file (docs/design-notes.md).",
        ),
    })
    .describe("Appends one JSON line per message to a file."),
  module: moduleRefSchema,
  process: processSchema,
  bullmq: bullmqSchema,
  redisStream: z
    .strictObject({
      url: redisUrlSchema,
      stream: z.string().min(1).describe("The stream to append to."),
      maxLen: z.number().int().min(1).optional().describe("Keep the stream near this many entries (XADD MAXLEN ~)."),
    })
    .describe("Appends each message to a Redis stream, idempotently by message id."),
};
export const SINK_CONNECTORS = Object.keys(sinkConnectorShape);

// A schema every message a vertex reads must satisfy; see pipeline/message-gate.ts.
const messageSchemaSchema = oneOfKeys("a message schema", {
  module: moduleRefSchema.describe("A zod schema (or any Standard Schema) exported by a module of yours: { path, export }."),
  jsonSchema: z
    .strictObject({ path: z.string().min(1).describe("JSON Schema file (draft-07, 2019-09 or 2020-12), relative to the spec file.") })
    .describe("A JSON Schema file, checked with Ajv."),
}).describe(
  "Checks each message's value, read as UTF-8 JSON, before the udf or sink sees it: { module: { path, export } } or { jsonSchema: { path } }. A message that fails (not UTF-8, not JSON, or against the schema) goes to the fallback with the reason; needs fallback:.",
);

const fallbackSchema = oneOfKeys("a fallback sink", sinkConnectorShape).describe(
  "Where messages go when retries are exhausted and onFailure is fallback: one built-in sink.",
);

const backoffSchema = z.strictObject({
  interval: duration.default(10).describe("Wait before the first retry."),
  factor: z.number().min(1).default(2).describe("Each wait is the previous one times this: a number ≥ 1."),
  steps: z.number().int().min(0).default(3).describe("Attempts in all before onFailure applies: an integer ≥ 0. A sink's or udf's retryLater answer (the message is redelivered after its delay) counts as one attempt."),
  cap: duration.default(1_000).describe("Longest wait between attempts."),
  jitter: z.number().min(0).max(1).default(0).describe("Share of each wait added at random: a number from 0 to 1."),
});

const onFailureSchema = z.enum(["retry", "fallback", "drop"]);

const retryStrategySchema = z
  .strictObject({
    backoff: backoffSchema.prefault({}),
    // No default on purpose: the runtime picks one per vertex kind, see effectiveOnFailure.
    onFailure: onFailureSchema
      .optional()
      .describe("When retries are exhausted: retry (forever), fallback (to the fallback sink) or drop. Default: retry for sinks; fallback for udfs with a fallback, else drop."),
  })
  .describe("How failed messages are retried, and what happens when retries run out.");

// DESIGN §4 (like Numaflow) puts retryStrategy and fallback inside `sink:`; the vertex level
// also takes them so udf vertices can have them. The output always has them on the vertex.
const sinkSchema = z
  .strictObject({
    ...z.strictObject(sinkConnectorShape).partial().shape,
    retryStrategy: retryStrategySchema.optional(),
    fallback: fallbackSchema.optional(),
  })
  .meta(requireExactlyOne(SINK_CONNECTORS))
  .superRefine((value, ctx) => reportDrafts(ctx, exactlyOneIssues("a sink", SINK_CONNECTORS, value, ctx.issues)), ALWAYS)
  .describe("Where messages end: exactly one of log, blackhole, jsonl, module, process, bullmq.");

// Ordered processing per key (issue #15 part 2, flow/ordered-*.ts): spec-wide, and per vertex.
const orderedSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe("true: messages with the same keys reach the udf or sink one at a time, in the order they were read."),
  })
  .describe(
    "Ordered processing per key: messages with the same keys reach every udf and sink in read order, across retries; different keys still go in parallel. Set on spec to apply to every udf and sink vertex; a vertex's own ordered overrides it.",
  );

// ── vertices and edges ───────────────────────────────────────────────────────────────────

const commitSchema = z.enum(["aligned", "partition"]);

const rawVertexSchema = z
  .strictObject({
    name: dnsName("Vertex name, unique in the pipeline"),
    // 256: measured (bench/partitions.ts, #10 item 13). Every epoch visits every partition, and
    // XState copies a parent's children on each spawn and stop, so past a few hundred a run pays
    // more for its partitions than for its messages.
    partitions: z
      .number()
      .int()
      .min(1)
      .max(MAX_PARTITIONS)
      .default(1)
      .describe(`Partitions of the vertex's input buffer: an integer from 1 to ${MAX_PARTITIONS}; for more throughput run more worker processes of the vertex (weir run --vertices), not more partitions.`),
    commit: commitSchema
      .default("aligned")
      .describe("aligned: commit an epoch once every partition is done; partition: each partition commits on its own."),
    limits: vertexLimitsSchema.optional(),
    source: sourceSchema.optional(),
    udf: udfSchema.optional(),
    sink: sinkSchema.optional(),
    retryStrategy: retryStrategySchema.optional(),
    fallback: fallbackSchema.optional(),
    schema: messageSchemaSchema.optional(),
    ordered: orderedSchema.optional(),
  })
  .meta(requireExactlyOne(VERTEX_ROLES))
  .superRefine((value, ctx) => reportDrafts(ctx, [...vertexIssues(value, ctx.issues), ...orderedVertexIssues(value), ...reduceVertexIssues(value)]), ALWAYS);

type RawVertex = z.output<typeof rawVertexSchema>;

export type Limits = z.output<typeof limitsSchema>;
export type VertexLimits = z.output<typeof vertexLimitsSchema>;
export type BufferSpec = z.output<typeof bufferSchema>;
/** `buffer.tls` of a redis buffer: file paths (absolute once loaded) and a server name. */
export type RedisTlsSpec = z.output<typeof redisTlsSchema>;
export type OnFull = z.output<typeof onFullSchema>;
export type CommitMode = z.output<typeof commitSchema>;
export type OnFailure = z.output<typeof onFailureSchema>;
export type GeneratorSpec = z.output<typeof generatorSchema>;
/** A BullMQ queue: `{ queue, url?, prefix }` (`url` is filled from a redis buffer's url by parsing). */
export type BullmqQueueSpec = z.output<typeof bullmqSchema>;
export type SourceSpec = z.output<typeof sourceSchema>;
export type ModuleRef = z.output<typeof moduleRefSchema>;
/** An external process: `{ command, env?, cwd?, startTimeout? }` (startTimeout in ms). */
export type ProcessSpec = z.output<typeof processSchema>;
/** The udf's function: `{ builtin } | { module } | { process }` (its groupBy is on the vertex). */
export type UdfSpec = UdfFunction;
/** One built-in sink: `{ log: {} } | { blackhole: {} } | { jsonl: { path } } | { module: { path, export } } | { process: { command, … } } | { bullmq: { queue, … } }`. */
export type SinkConnectorSpec = z.output<typeof fallbackSchema>;
/** A message schema: `{ module: { path, export } } | { jsonSchema: { path } }`. */
export type MessageSchemaSpec = z.output<typeof messageSchemaSchema>;
export type BackoffSpec = z.output<typeof backoffSchema>;
export type RetryStrategySpec = z.output<typeof retryStrategySchema>;
/** `ordered: { enabled }` of the spec or of a vertex. */
export type OrderedSpec = z.output<typeof orderedSchema>;

interface VertexCommon {
  name: string;
  partitions: number;
  commit: CommitMode;
  /** Only the fields the vertex overrides; see {@link effectiveLimits}. */
  limits?: VertexLimits;
}

export interface SourceVertexSpec extends VertexCommon {
  kind: "source";
  source: SourceSpec;
}

export interface UdfVertexSpec extends VertexCommon {
  kind: "udf";
  udf: UdfSpec;
  /** Set on a reduce vertex: how messages are grouped into windows (issue #13). */
  groupBy?: GroupBySpec;
  /** Always complete: defaults fill what the spec leaves out (onFailure excepted). */
  retryStrategy: RetryStrategySpec;
  fallback?: SinkConnectorSpec;
  /** Every message is checked against it before the udf sees it. */
  schema?: MessageSchemaSpec;  /** This vertex's own `ordered`, overriding the spec's; see {@link effectiveOrdered}. */
  ordered?: OrderedSpec;
}

export interface SinkVertexSpec extends VertexCommon {
  kind: "sink";
  sink: SinkConnectorSpec;
  /** Always complete: defaults fill what the spec leaves out (onFailure excepted). */
  retryStrategy: RetryStrategySpec;
  fallback?: SinkConnectorSpec;
  /** Every message is checked against it before the sink sees it. */
  schema?: MessageSchemaSpec;  /** This vertex's own `ordered`, overriding the spec's; see {@link effectiveOrdered}. */
  ordered?: OrderedSpec;
}

export type VertexSpec = SourceVertexSpec | UdfVertexSpec | SinkVertexSpec;
export type VertexKind = VertexSpec["kind"];

const defaultRetryStrategy = (): RetryStrategySpec => retryStrategySchema.parse({});

// Runs only on a valid vertex, so exactly one role is set (vertexIssues saw to it).
function toVertexSpec(raw: RawVertex): VertexSpec | undefined {
  const common: VertexCommon = {
    name: raw.name,
    partitions: raw.partitions,
    commit: raw.commit,
    ...(raw.limits === undefined ? {} : { limits: raw.limits }),
  };
  if (raw.source !== undefined) return { kind: "source", ...common, source: raw.source };
  const retryStrategy = raw.retryStrategy ?? raw.sink?.retryStrategy ?? defaultRetryStrategy();
  const fallback = raw.fallback ?? raw.sink?.fallback;
  const optional = {
    ...(fallback === undefined ? {} : { fallback }),
    ...(raw.schema === undefined ? {} : { schema: raw.schema }),
    ...(raw.ordered === undefined ? {} : { ordered: raw.ordered }),
  };
  if (raw.udf !== undefined) {
    const { groupBy, ...udf } = raw.udf;
    return { kind: "udf", ...common, udf: udf as UdfSpec, ...(groupBy === undefined ? {} : { groupBy }), retryStrategy, ...optional };
  }
  if (raw.sink !== undefined) {
    const { retryStrategy: _retry, fallback: _fallback, ...connector } = raw.sink;
    return { kind: "sink", ...common, sink: connector as SinkConnectorSpec, retryStrategy, ...optional };
  }
  return undefined;
}

// A vertex whose role key is misspelt (`sourc:`) can reach the transform with its issue reported
// elsewhere; it becomes one more issue, never an exception.
const vertexSchema = rawVertexSchema.transform((raw, ctx) => {
  const vertex = toVertexSpec(raw);
  if (vertex !== undefined) return vertex;
  ctx.issues.push({ code: "custom", message: "a vertex needs exactly one of source, udf, sink", input: raw });
  return z.NEVER;
});

const edgeSchema = z.strictObject({
  from: z.string().min(1).describe("Name of the vertex the edge leaves."),
  to: z.string().min(1).describe("Name of the vertex the edge enters."),
  conditions: z
    .strictObject({
      tags: z.strictObject({
        operator: z.enum(["or", "and", "not"]).default("or").describe("or: any tag matches; and: all match; not: none matches."),
        values: z.array(z.string().min(1)).min(1).describe("Tags to match against each message's tags."),
      }),
    })
    .optional()
    .describe("Forward only messages whose tags match; the rest are dropped and counted."),
});

export type EdgeSpec = z.output<typeof edgeSchema>;

// ── the whole pipeline ───────────────────────────────────────────────────────────────────

const specBodySchema = z
  .strictObject({
    buffer: bufferSchema,
    limits: limitsSchema.prefault({}),
    vertices: z.array(vertexSchema).min(1).describe("The pipeline's vertices: sources, udfs and sinks."),
    edges: z.array(edgeSchema).describe("Edges between vertices; each one is a partitioned buffer."),
    ordered: orderedSchema.optional(),
    watermark: watermarkSchema.optional(),
  })
  .superRefine((value, ctx) => reportDrafts(ctx, [...graphIssues(value), ...bullmqUrlIssues(value), ...bufferTlsIssues(value), ...rateLimitIssues(value), ...orderedIssues(value)]), ALWAYS)
  // A bullmq queue without a url lives on the redis buffer's server (bullmq-rules.ts).
  .transform(withBullmqUrls);

/** The zod schema of a pipeline spec. Parse with {@link parseSpec} for readable errors. */
export const pipelineSpecSchema = z
  .strictObject({
    apiVersion: z.literal("weir.dev/v1"),
    kind: z.literal("Pipeline"),
    metadata: z.strictObject({ name: dnsName("Pipeline name") }),
    spec: specBodySchema,
  })
  .meta({ title: "Weir pipeline", description: "A Weir stream-processing pipeline (weir.dev/v1)." });

/** What users write: durations as text, defaulted fields optional. */
export type PipelineSpecInput = z.input<typeof pipelineSpecSchema>;
/** What the runtime reads: durations in ms, defaults filled, vertices tagged with `kind`. */
export type PipelineSpec = z.output<typeof pipelineSpecSchema>;

/**
 * What happens to a message whose retries are exhausted on this vertex.
 * An explicit `retryStrategy.onFailure` wins. Otherwise a sink retries forever: losing output
 * silently is worse than stalling visibly. A udf falls back when it has somewhere to fall back
 * to, else drops (and counts) the message: one poison message must not stop a map vertex.
 *
 * @example
 * ```ts
 * effectiveOnFailure(spec.spec.vertices[2]); // "retry" for a sink without onFailure
 * ```
 */
export function effectiveOnFailure(vertex: UdfVertexSpec | SinkVertexSpec): OnFailure {
  if (vertex.retryStrategy.onFailure !== undefined) return vertex.retryStrategy.onFailure;
  if (vertex.kind === "sink") return "retry";
  return vertex.fallback === undefined ? "drop" : "fallback";
}

/** The limits a vertex runs with: `spec.limits`, overridden field by field by its own `limits`. */
export function effectiveLimits(spec: PipelineSpec, vertex: VertexSpec): Limits {
  return { ...spec.spec.limits, ...vertex.limits };
}

/**
 * Whether a vertex runs ordered per key: its own `ordered` wins, else the spec's. Sources never
 * (they read each partition in order already).
 *
 * @example
 * ```ts
 * effectiveOrdered(spec, vertex); // true under spec.ordered: { enabled: true } unless the vertex says false
 * ```
 */
export function effectiveOrdered(spec: PipelineSpec, vertex: VertexSpec): boolean {
  if (vertex.kind === "source") return false;
  return (vertex.ordered ?? spec.spec.ordered)?.enabled === true;
}
