/**
 * docs/flow-control.md's delayed-redelivery example, made runnable by examples/flow-control/retry-later.yaml:
 * a sink (the default export) and a map udf (`enrich`) that answer `retryLater` for a message instead
 * of processing it now. The message leaves its epoch, which commits, and comes back after `delayMs`.
 *
 *   sink: { module: { path: ./retry-later.ts } }
 *   udf:  { module: { path: ./retry-later.ts, export: enrich } }
 */
import type { Message, SinkAnswer } from "@weir/actors";

// The doc's two predicates are "yours"; here: every 10th message is rate limited the first time the
// sink sees it, and the upstream of `enrich` is down for its first 5 calls.
const seen = new Set<string>();
function rateLimited(message: Message): boolean {
  const first = !seen.has(message.id);
  seen.add(message.id);
  return first && message.id.endsWith("0");
}
let calls = 0;
function upstreamDown(): boolean {
  calls += 1;
  return calls <= 5;
}

// a sink (module export): one answer per message
export default async (messages: readonly Message[]): Promise<SinkAnswer[]> =>
  messages.map((m): SinkAnswer => (rateLimited(m) ? { id: m.id, status: "retryLater", delayMs: 2000 } : { id: m.id, status: "ok" }));

// a map udf, per message: instead of its results
export const enrich = (m: Message) => (upstreamDown() ? { status: "retryLater" as const, delayMs: 5000 } : [{ value: m.value }]);
