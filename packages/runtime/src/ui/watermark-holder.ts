/**
 * Which expected writer holds a reader's watermark back, read from its view's state (the same rule
 * as buffer/watermark-view.ts: a writer's watermark is the lowest of its live processors' last
 * marks, else its newest processor's). A writer that never marked holds the watermark undefined,
 * so it comes first.
 */
import type { WatermarkViewState } from "../buffer/watermark-view.js";
import { HOLD_MARK } from "../time/watermark.js";
import type { WatermarkHolder } from "./dashboard-types.js";

/**
 * @example
 * ```ts
 * holderOf(state, ["up/0", "up/1"]); // { writer: "up/1", processor: "w2", watermark: 1_700_000_000_000, since: …, live: true }
 * ```
 */
export function holderOf(state: WatermarkViewState, expected: readonly string[] = []): WatermarkHolder | null {
  const known = new Set(state.writers.map((entry) => entry.writer));
  const silent = [...expected.filter((writer) => !known.has(writer)), ...state.writers.filter((entry) => entry.processors.length === 0).map((entry) => entry.writer)];
  if (silent.length > 0) return { writer: silent[0]!, processor: null, watermark: null, since: null, live: false };
  let holder: WatermarkHolder | null = null;
  for (const { writer, processors } of state.writers) {
    const live = processors.filter((processor) => processor.live);
    const candidates = live.length > 0 ? live : [processors.reduce((newest, processor) => (processor.writtenAt >= newest.writtenAt ? processor : newest))];
    const lowest = candidates.reduce((low, processor) => (processor.watermark < low.watermark ? processor : low));
    // A hold mark (a worker that has not marked yet) holds the watermark like a writer never marked.
    if (lowest.watermark <= HOLD_MARK) return { writer, processor: lowest.processor, watermark: null, since: lowest.since, live: lowest.live };
    if (holder === null || holder.watermark === null || lowest.watermark < holder.watermark) {
      holder = { writer, processor: lowest.processor, watermark: lowest.watermark, since: lowest.since, live: lowest.live };
    }
  }
  return holder;
}
