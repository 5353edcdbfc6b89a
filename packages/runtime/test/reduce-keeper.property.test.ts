/**
 * Issue #13 acceptance, the window logic alone: the results a window keeper emits per (keys,
 * window) equal an independent brute-force reference that groups the full message list, for fixed,
 * sliding and session windows, keyed and not, with every reducer form. Messages arrive out of order
 * within maxDelay, in random epochs with the source's watermark (max seen − maxDelay, then
 * END_OF_TIME). Along the way epochs are redriven, abandoned (never committed, read again) and the
 * keeper restarts from what it asked to persist (the WindowStateChanges replayed into a Map), also
 * between emitting and forgetting windows. Late messages are reported, never counted.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Message } from "@weir/actors";
import type { GroupBySpec, WindowSpec } from "../src/spec/reduce-spec.js";
import { countReducer, sumReducer } from "../src/reduce/builtin-reducers.js";
import { toReducer } from "../src/reduce/load-reducer.js";
import type { Reducer } from "../src/reduce/reducer.js";
import { createWindowKeeper, type WindowKeeper } from "../src/reduce/window-keeper.js";
import { END_OF_TIME } from "../src/time/watermark.js";

type ReducerKind = "count" | "sum" | "incremental" | "batch";
const KEY_CHOICES: ReadonlyArray<readonly string[]> = [["a"], ["b"], ["a", "b"], ["c:d"], []];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Draw {
  readonly gap: number; // how far the source's clock moves on
  readonly jitter: number; // 0..1 of maxDelay the message is behind it
  readonly key: number;
  readonly amount: number;
  readonly kind: "onTime" | "late" | "lagging"; // lagging: behind the watermark but within allowedLateness
}

interface EpochPlan {
  readonly size: number;
  readonly redrive: boolean;
  readonly abandon: boolean;
  readonly crashBeforeCommit: boolean;
  readonly restartBeforeForget: boolean;
  readonly restartAfter: boolean;
}

interface Scenario {
  readonly window: WindowSpec;
  readonly keyed: boolean;
  readonly maxDelay: number;
  readonly allowedLateness: number;
  readonly reducer: ReducerKind;
  readonly draws: readonly Draw[];
  readonly epochs: readonly EpochPlan[];
}

const windowArb: fc.Arbitrary<WindowSpec> = fc.oneof(
  fc.record({ fixed: fc.record({ length: fc.integer({ min: 1, max: 60 }) }) }),
  fc
    .tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }))
    .map(([a, b]) => ({ sliding: { length: Math.max(a, b), slide: Math.min(a, b) } })),
  fc.record({ session: fc.record({ timeout: fc.integer({ min: 1, max: 40 }) }) }),
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  window: windowArb,
  keyed: fc.boolean(),
  maxDelay: fc.integer({ min: 0, max: 40 }),
  allowedLateness: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 30 })),
  reducer: fc.constantFrom<ReducerKind>("count", "sum", "incremental", "batch"),
  draws: fc.array(
    fc.record({
      // Mostly close together, sometimes far apart: sessions end, and late arrivals bridge them.
      gap: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 40 })),
      jitter: fc.double({ min: 0, max: 1, noNaN: true }),
      key: fc.integer({ min: 0, max: KEY_CHOICES.length - 1 }),
      amount: fc.integer({ min: -50, max: 50 }),
      kind: fc.constantFrom<Draw["kind"]>("onTime", "onTime", "onTime", "onTime", "late", "lagging"),
    }),
    { minLength: 1, maxLength: 150, size: "max" },
  ),
  epochs: fc.array(
    fc.record({
      size: fc.integer({ min: 0, max: 15 }),
      redrive: fc.boolean(),
      abandon: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < 0.1),
      crashBeforeCommit: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < 0.08),
      restartBeforeForget: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < 0.1),
      restartAfter: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < 0.15),
    }),
    { minLength: 1, maxLength: 40, size: "max" },
  ),
});

function reducerOf(kind: ReducerKind, groupBy: GroupBySpec): Reducer {
  const amountOf = (message: Message): number => (JSON.parse(decoder.decode(message.value)) as { n: number }).n;
  if (kind === "count") return countReducer;
  if (kind === "sum") return sumReducer("n");
  if (kind === "incremental") {
    // Changes its accumulator in place, as users do.
    return toReducer(
      {
        init: () => ({ count: 0, sum: 0 }),
        add: (acc: { count: number; sum: number }, message: Message) => {
          acc.count += 1;
          acc.sum += amountOf(message);
          return acc;
        },
        merge: (a: { count: number; sum: number }, b: { count: number; sum: number }) => ({ count: a.count + b.count, sum: a.sum + b.sum }),
        finish: (acc: { count: number; sum: number }, keys: readonly string[], window: { start: number; end: number }) => [
          { value: JSON.stringify({ keys, start: window.start, end: window.end, count: acc.count, sum: acc.sum }) },
        ],
      },
      "module test#incremental",
      groupBy,
    );
  }
  return toReducer(
    (keys: readonly string[], messages: readonly Message[], window: { start: number; end: number }) => [
      {
        value: JSON.stringify({
          keys,
          start: window.start,
          end: window.end,
          count: messages.length,
          sum: messages.reduce((total, message) => total + amountOf(message), 0),
          distinct: new Set(messages.map((message) => message.id)).size,
        }),
      },
    ],
    "module test#batch",
    groupBy,
  );
}

/** The reference: every on-time message grouped by (keys, window), written plainly from the definitions. */
function reference(messages: readonly Message[], groupBy: GroupBySpec): Map<string, { count: number; sum: number }> {
  const windows = new Map<string, { count: number; sum: number }>();
  const add = (keys: readonly string[], start: number, end: number, amount: number) => {
    const id = `${JSON.stringify(keys)}|${start}|${end}`;
    const window = windows.get(id) ?? { count: 0, sum: 0 };
    windows.set(id, { count: window.count + 1, sum: window.sum + amount });
  };
  const keysOf = (message: Message) => (groupBy.keyed ? message.keys : []);
  const amountOf = (message: Message) => (JSON.parse(decoder.decode(message.value)) as { n: number }).n;
  const window = groupBy.window;
  if ("fixed" in window) {
    for (const m of messages) {
      const start = Math.floor(m.eventTime / window.fixed.length) * window.fixed.length;
      add(keysOf(m), start, start + window.fixed.length, amountOf(m));
    }
  } else if ("sliding" in window) {
    const { length, slide } = window.sliding;
    for (const m of messages) {
      for (let start = Math.floor(m.eventTime / slide) * slide; start + length > m.eventTime; start -= slide) add(keysOf(m), start, start + length, amountOf(m));
    }
  } else {
    const byKeys = new Map<string, Message[]>();
    for (const m of messages) byKeys.set(JSON.stringify(keysOf(m)), [...(byKeys.get(JSON.stringify(keysOf(m))) ?? []), m]);
    for (const [keys, list] of byKeys) {
      const sorted = [...list].sort((a, b) => a.eventTime - b.eventTime);
      let session: Message[] = [];
      const flush = () => {
        const first = session[0]!.eventTime;
        const last = session[session.length - 1]!.eventTime;
        for (const m of session) add(JSON.parse(keys) as string[], first, last + window.session.timeout, amountOf(m));
      };
      for (const m of sorted) {
        if (session.length > 0 && m.eventTime - session[session.length - 1]!.eventTime >= window.session.timeout) {
          flush();
          session = [];
        }
        session.push(m);
      }
      if (session.length > 0) flush();
    }
  }
  return windows;
}

/** Runs a scenario; returns what was emitted (deduplicated by id, as a buffer does) and what should have been. */
async function run(scenario: Scenario) {
  const groupBy: GroupBySpec = { window: scenario.window, keyed: scenario.keyed, allowedLateness: scenario.allowedLateness };
  const reducer = reducerOf(scenario.reducer, groupBy);
  const store = new Map<string, string>();
  let storedWatermark: number | undefined;
  const build = (): WindowKeeper =>
    createWindowKeeper({ vertex: "reduce", partition: 0, groupBy, reducer, stored: new Map(store), ...(storedWatermark === undefined ? {} : { watermark: storedWatermark }) });
  let keeper = build();
  const emitted = new Map<string, Message>();
  const onTime: Message[] = [];
  const lateIds = new Set<string>();
  let clock = 10_000;
  let maxSeen: number | undefined;
  let epoch = 1;
  let drawn = 0;
  let removed = 0;

  const nextMessage = (draw: Draw): Message => {
    const watermark = keeper.watermark;
    const id = `m${drawn++}`;
    let eventTime: number;
    if (draw.kind === "late" && watermark !== undefined) {
      eventTime = watermark - scenario.allowedLateness - 1 - draw.gap;
      lateIds.add(id);
    } else if (draw.kind === "lagging" && watermark !== undefined && scenario.allowedLateness > 0) {
      eventTime = watermark - Math.floor(draw.jitter * scenario.allowedLateness);
    } else {
      clock += draw.gap;
      eventTime = clock - Math.floor(draw.jitter * scenario.maxDelay);
    }
    const message: Message = { id, keys: KEY_CHOICES[draw.key]!, value: encoder.encode(JSON.stringify({ n: draw.amount })), eventTime, headers: {} };
    if (!lateIds.has(id)) onTime.push(message);
    return message;
  };

  const emit = async (): Promise<string[]> => {
    const closed = await keeper.closable();
    let lastEnd = Number.NEGATIVE_INFINITY;
    for (const window of closed) {
      expect(window.end).toBeGreaterThanOrEqual(lastEnd);
      lastEnd = window.end;
      expect(window.end + scenario.allowedLateness).toBeLessThanOrEqual(keeper.watermark!);
      for (const result of window.results) {
        expect(result.eventTime).toBe(window.end - 1);
        expect(result.keys).toEqual(window.keys);
        const before = emitted.get(result.id);
        // A re-emission (restart between emitting and forgetting) carries the same id and value: buffer dedup drops it.
        if (before !== undefined) expect(decoder.decode(result.value)).toBe(decoder.decode(before.value));
        emitted.set(result.id, result);
      }
    }
    return closed.map((window) => window.field);
  };

  const commit = async (plan: EpochPlan | undefined, watermark: number | undefined) => {
    const change = keeper.commit(epoch, watermark);
    for (const [field, json] of change.set) {
      expect(store.get(field), `only changed windows are in the change (${field})`).not.toBe(json);
      store.set(field, json);
    }
    removed += change.remove.length;
    for (const field of change.remove) {
      expect(store.has(field)).toBe(true);
      store.delete(field);
    }
    if (watermark !== undefined) storedWatermark = Math.max(storedWatermark ?? watermark, watermark);
    expect(keeper.watermark).toBe(storedWatermark);
    epoch += 1;
    let fields = await emit();
    if (plan?.restartBeforeForget === true) {
      keeper = build();
      fields = await emit();
    }
    keeper.forget(fields);
    for (const field of fields) store.delete(field);
    if (plan?.restartAfter === true) keeper = build();
    expect(keeper.openWindows()).toBe(store.size);
    const ends = [...store.keys()].map((field) => Number(field.split(":")[1]));
    expect(keeper.earliestOpenEnd()).toBe(ends.length === 0 ? undefined : Math.min(...ends));
  };

  let cursor = 0;
  for (const plan of scenario.epochs) {
    const chunk = scenario.draws.slice(cursor, cursor + plan.size).map(nextMessage);
    cursor += plan.size;
    const expectedLate = chunk.filter((m) => lateIds.has(m.id)).map((m) => m.id);
    if (plan.abandon) {
      keeper.absorb(epoch, chunk); // never committed: read again in the next epoch
      epoch += 1;
    }
    if (plan.crashBeforeCommit) {
      keeper.absorb(epoch, chunk);
      keeper = build();
      epoch += 1;
    }
    const outcome = keeper.absorb(epoch, chunk);
    expect(outcome.failed).toEqual([]);
    expect(outcome.late.map(({ message }) => message.id)).toEqual(expectedLate);
    if (plan.redrive) {
      const again = keeper.absorb(epoch, [...chunk].reverse());
      expect(again.late.map(({ message }) => message.id).sort()).toEqual([...expectedLate].sort());
    }
    for (const m of chunk) if (!lateIds.has(m.id)) maxSeen = Math.max(maxSeen ?? m.eventTime, m.eventTime);
    await commit(plan, maxSeen === undefined ? undefined : maxSeen - scenario.maxDelay);
  }
  await commit(undefined, END_OF_TIME);
  expect(keeper.openWindows()).toBe(0);
  expect(store.size).toBe(0);
  return { emitted, expected: reference(onTime, groupBy), late: lateIds.size, removed };
}

function emittedTotals(emitted: ReadonlyMap<string, Message>, kind: ReducerKind): Map<string, { count: number; sum: number }> {
  const totals = new Map<string, { count: number; sum: number }>();
  for (const message of emitted.values()) {
    const value = JSON.parse(decoder.decode(message.value)) as { keys: string[]; start: number; end: number; count: number; sum?: number; distinct?: number };
    if (value.distinct !== undefined) expect(value.distinct, "a batch window holds each message once").toBe(value.count);
    const id = `${JSON.stringify(value.keys)}|${value.start}|${value.end}`;
    expect(totals.has(id), `one result per window: ${id}`).toBe(false);
    totals.set(id, { count: value.count, sum: kind === "count" ? 0 : value.sum! });
  }
  return totals;
}

describe("window keeper against a brute-force reference", () => {
  it("counts (and sums) per (keys, window) equal the reference, whatever the epochs, redrives, abandons and restarts", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const { emitted, expected } = await run(scenario);
        const want = new Map([...expected].map(([id, total]) => [id, scenario.reducer === "count" ? { count: total.count, sum: 0 } : total]));
        expect(emittedTotals(emitted, scenario.reducer)).toEqual(want);
      }),
      { numRuns: 150, seed: 1313 },
    );
  });

  it.each(["fixed", "sliding", "session"] as const)("%s windows: long out-of-order runs with late messages, keyed and not", async (shape) => {
    const window: WindowSpec =
      shape === "fixed" ? { fixed: { length: 20 } } : shape === "sliding" ? { sliding: { length: 30, slide: 10 } } : { session: { timeout: 12 } };
    let late = 0;
    let removed = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, fc.boolean(), async (scenario, keyed) => {
        const outcome = await run({ ...scenario, window, keyed, maxDelay: Math.max(scenario.maxDelay, 25), reducer: "count" });
        expect(emittedTotals(outcome.emitted, "count")).toEqual(new Map([...outcome.expected].map(([id, total]) => [id, { count: total.count, sum: 0 }])));
        late += outcome.late;
        removed += outcome.removed;
      }),
      { numRuns: 80, seed: 1314 },
    );
    // The runs exercised what they claim to: late messages, and sessions a late message merged.
    expect(late).toBeGreaterThan(0);
    if (shape === "session") expect(removed).toBeGreaterThan(0);
  });
});
