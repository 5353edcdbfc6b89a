/**
 * The ordered lease (flow/ordered-lease.ts) against a Redis that stops answering: a holder whose
 * renewals go unanswered for a ttl has lost the lease (a standby may take it once it expires) and
 * must stop before its queued reads and claims run on the Redis that comes back — a holder that
 * ran on took the new holder's entries and inflated their delivery counts until the poison guard
 * sent innocent messages to the fallback (fault scenario "reduce", design notes "Issue 12,
 * session 12 — wm").
 */
import { Redis } from "ioredis";
import { afterEach, expect, it, vi } from "vitest";
import { holdOrderedLease } from "../src/flow/ordered-lease.js";
import { silentLogger } from "../src/observability/logger.js";
import { startRedisServer, uniquePrefix } from "./support/redis-server.js";

const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

it("a holder whose renewals Redis does not answer for a ttl loses the lease, before Redis answers again", async () => {
  // A private server: CLIENT PAUSE must not reach other test files' connections.
  const server = await startRedisServer();
  opened.push(() => server.stop());
  const client = new Redis(server.url, { maxRetriesPerRequest: null });
  const admin = new Redis(server.url);
  opened.push(async () => void admin.disconnect(), async () => void client.disconnect());
  const lost: string[] = [];
  const lease = await holdOrderedLease({ client, key: `${uniquePrefix("lease")}:ordered:v`, vertex: "v", consumer: "w1", ttlMs: 300, logger: silentLogger, cancelled: () => false, onLost: (reason) => lost.push(reason) });
  opened.push(async () => lease?.release());
  // Renewals (scripts that write) now wait in Redis unanswered, as when Redis is unreachable.
  await admin.call("CLIENT", "PAUSE", 60_000, "WRITE");
  opened.push(async () => void (await admin.call("CLIENT", "UNPAUSE")));
  await vi.waitFor(() => expect(lost).toHaveLength(1), { timeout: 10_000, interval: 20 });
  expect(lost[0]).toMatch(/lost the lease of ordered vertex 'v' \(it was not renewed for 300 ms/);
});
