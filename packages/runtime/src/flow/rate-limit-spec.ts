/**
 * `limits.rateLimit` of the pipeline spec (issue #15 part 1), in Numaflow 1.7's shape:
 *
 * ```yaml
 * limits:
 *   rateLimit: { max: 500, min: 10, rampUpDuration: 10s, store: { redis: {} }, adaptive: { latencyTarget: 200ms } }
 * ```
 *
 * The schema lives here, next to the limiter; pipeline-spec.ts only adds it to the limits. Rules
 * across fields (min ≤ max, a redis store needs a redis buffer) are {@link rateLimitIssues}.
 */
import { z } from "zod";
import { durationSchema as duration } from "../spec/duration.js";
import { oneOfKeys } from "../spec/exactly-one.js";
import { isRecord, type IssueDraft } from "../spec/issue-draft.js";

const MAX_RATE = 10_000_000;

const storeSchema = oneOfKeys("a rate limit store", {
  redis: z.strictObject({}).describe("Tokens live in the redis buffer's server: the limit holds across every worker process of the vertex."),
  memory: z.strictObject({}).describe("Tokens live in each process: the limit holds per worker process."),
}).describe("Where the tokens live: { redis: {} } (shared by every worker; needs buffer.type redis) or { memory: {} } (per process). Default: the buffer's type.");

const adaptiveSchema = z
  .strictObject({
    latencyTarget: duration.describe(`Longest a sink or udf attempt should take on average, a duration like "200ms"; slower attempts lower the rate.`),
  })
  .describe("Lower the rate (down to min) while the vertex's sink or udf fails or is slower than latencyTarget, and raise it back toward max once it recovers.");

export const rateLimitSchema = z
  .strictObject({
    max: z.number().positive().max(MAX_RATE).describe(`Most messages per second the vertex reads, across all its workers with a redis store: a number in (0, ${MAX_RATE}].`),
    min: z.number().positive().max(MAX_RATE).optional().describe("Messages per second at the start of the ramp up, and the floor of the adaptive mode; default: max (no ramp)."),
    rampUpDuration: duration.default(0).describe(`How long the rate takes to climb from min to max after the vertex starts, a duration like "10s"; default 0 (no ramp).`),
    store: storeSchema.optional(),
    adaptive: adaptiveSchema.optional(),
  })
  .describe("Rate limit of the vertex's reads in messages per second, ramping up from min to max over rampUpDuration.");

export type RateLimitSpec = z.output<typeof rateLimitSchema>;
export type RateLimitStoreKind = "redis" | "memory";

/** Where a vertex's tokens live: the spec's store, else the buffer's type. */
export function rateLimitStoreKind(rateLimit: RateLimitSpec, bufferType: "memory" | "redis"): RateLimitStoreKind {
  if (rateLimit.store === undefined) return bufferType;
  return "redis" in rateLimit.store ? "redis" : "memory";
}

/**
 * Cross-field issues of every `rateLimit` in a spec body (`limits` and each vertex's `limits`):
 * `min` above `max`, and a redis store on a memory buffer (there is no Redis to hold the tokens).
 * Reads its input as `unknown`: it runs on a partly valid body too.
 */
export function rateLimitIssues(body: unknown): IssueDraft[] {
  if (!isRecord(body)) return [];
  const bufferType = isRecord(body["buffer"]) ? body["buffer"]["type"] : "memory";
  const issues: IssueDraft[] = [];
  const check = (limits: unknown, path: readonly (string | number)[]) => {
    if (!isRecord(limits) || !isRecord(limits["rateLimit"])) return;
    const rateLimit = limits["rateLimit"];
    const at = [...path, "rateLimit"];
    const { max, min } = rateLimit;
    if (typeof max === "number" && typeof min === "number" && min > max) {
      issues.push({ path: [...at, "min"], message: `is ${min}, above max (${max})`, hint: "min is where the ramp up starts and must be ≤ max; lower min or raise max" });
    }
    const store = rateLimit["store"];
    if (bufferType !== "redis" && isRecord(store) && store["redis"] !== undefined) {
      issues.push({
        path: [...at, "store", "redis"],
        message: "needs a redis buffer, but spec.buffer is memory: there is no Redis to keep the tokens in",
        hint: "use store: { memory: {} } (a limit per process), or set spec.buffer to { type: redis, url: … }",
      });
    }
  };
  check(body["limits"], ["limits"]);
  const vertices = body["vertices"];
  if (Array.isArray(vertices)) vertices.forEach((vertex, index) => isRecord(vertex) && check(vertex["limits"], ["vertices", index, "limits"]));
  return issues;
}
