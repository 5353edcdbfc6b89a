/**
 * The spec of event time (issue #13, DESIGN §8): `spec.watermark` and a udf's `groupBy`, which
 * makes it a reduce vertex. Numaflow's shape. Cross-field rules in reduce-rules.ts.
 *
 *   spec.watermark  { maxDelay, idleSource? }           how sources hold back and advance watermarks
 *   udf.groupBy     { window, keyed, allowedLateness }  fixed | sliding | session windows
 */
import { z } from "zod";
import { durationSchema as duration } from "./duration.js";
import { oneOfKeys } from "./exactly-one.js";

const positive = (what: string) => duration.refine((ms) => ms >= 1, { error: `${what} must be at least 1ms` });

const windowSchema = oneOfKeys("a window", {
  fixed: z
    .strictObject({ length: positive("length").describe(`Length of each window: a duration like "1s"; windows are [k·length, (k+1)·length) from the epoch.`) })
    .describe("Back-to-back windows of one length, aligned to the Unix epoch."),
  sliding: z
    .strictObject({
      length: positive("length").describe(`Length of each window: a duration like "10s".`),
      slide: positive("slide").describe(`How often a window starts: a duration ≤ length, like "1s"; windows are [k·slide, k·slide + length).`),
    })
    .describe("Overlapping windows: a message belongs to every window that covers its event time."),
  session: z
    .strictObject({ timeout: positive("timeout").describe(`Gap that ends a key's session: a duration like "30s".`) })
    .describe("Per-key sessions: a session ends timeout after its last message; two sessions a message bridges merge."),
}).describe("How messages are grouped in time: { fixed: { length } }, { sliding: { length, slide } } or { session: { timeout } }.");

export const groupBySchema = z
  .strictObject({
    window: windowSchema,
    keyed: z.boolean().default(true).describe("true: one window per keys and time range; false: one window per time range for every message (needs partitions: 1)."),
    allowedLateness: duration
      .default(0)
      .describe("How long after its end a window stays open for messages behind the watermark; later ones are late and go to the fallback."),
  })
  .describe("Makes the udf a reduce vertex: messages are grouped by keys and event-time window, and each window's results are emitted when the watermark passes its end.");

const idleSourceSchema = z
  .strictObject({
    threshold: positive("threshold").describe(`How long a source partition reads nothing before its watermark advances on its own: a duration like "5s".`),
    stepInterval: positive("stepInterval").default(1_000).describe("How often an idle partition's watermark advances."),
    incrementBy: positive("incrementBy").default(1_000).describe("How far each step advances it (never past now − maxDelay)."),
  })
  .describe("Advances an idle source partition's watermark, so windows downstream still close.");

export const watermarkSchema = z
  .strictObject({
    maxDelay: duration
      .default(0)
      .describe("How far out of order event times may arrive: a source's watermark is its latest event time minus maxDelay."),
    idleSource: idleSourceSchema.optional(),
  })
  .describe("Event-time watermarks of the sources (DESIGN §8).");

/** `spec.watermark`, durations in ms. */
export type WatermarkSpec = z.output<typeof watermarkSchema>;
/** `spec.watermark.idleSource`, durations in ms. */
export type IdleSourceSpec = z.output<typeof idleSourceSchema>;
/** A reduce vertex's `groupBy`, durations in ms. */
export type GroupBySpec = z.output<typeof groupBySchema>;
/** `{ fixed: { length } } | { sliding: { length, slide } } | { session: { timeout } }`, in ms. */
export type WindowSpec = GroupBySpec["window"];

/** The watermark settings a pipeline runs with: its own, else no delay and no idle advance. */
export const DEFAULT_WATERMARK: WatermarkSpec = Object.freeze({ maxDelay: 0 });
