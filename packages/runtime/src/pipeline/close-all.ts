import type { Logger } from "../observability/logger.js";

/** Runs every closer, even when one fails, and logs the failures. */
export async function closeAll(closers: ReadonlyArray<() => Promise<void>>, logger: Logger): Promise<void> {
  // Every close runs even when one fails (BullMQ's rule for close()).
  const results = await Promise.allSettled(closers.map((close) => close()));
  for (const result of results) {
    if (result.status === "rejected") logger.warn("close failed", { error: String(result.reason) });
  }
}
