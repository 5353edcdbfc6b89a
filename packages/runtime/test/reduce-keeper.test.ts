/** The window keeper's rules one by one (issue #13 contract §2–§3); the reference comparison is in reduce-keeper.property.test.ts. */
import { describe, expect, it, vi } from "vitest";
import type { Message } from "@weir/actors";
import type { GroupBySpec } from "../src/spec/reduce-spec.js";
import { countReducer, sumReducer } from "../src/reduce/builtin-reducers.js";
import { toReducer } from "../src/reduce/load-reducer.js";
import { ReduceError } from "../src/reduce/reduce-error.js";
import type { Reducer } from "../src/reduce/reducer.js";
import { createWindowKeeper, type ClosedWindow, type WindowKeeper } from "../src/reduce/window-keeper.js";
import { END_OF_TIME } from "../src/time/watermark.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const fixed10: GroupBySpec = { window: { fixed: { length: 10 } }, keyed: true, allowedLateness: 0 };

function message(id: string, eventTime: number, keys: readonly string[] = ["k"], value: string = "{}"): Message {
  return { id, keys, value: encoder.encode(value), eventTime, headers: {} };
}

function keeper(reducer: Reducer = countReducer, groupBy: GroupBySpec = fixed10, more: { stored?: ReadonlyMap<string, string>; watermark?: number } = {}): WindowKeeper {
  return createWindowKeeper({ vertex: "v", partition: 0, groupBy, reducer, ...more });
}

const values = (closed: readonly ClosedWindow[]) => closed.flatMap((window) => window.results.map((result) => JSON.parse(decoder.decode(result.value)) as unknown));

describe("late messages", () => {
  it("eventTime < watermark is late, reported with a plain reason, never counted; at the watermark is on time", async () => {
    const k = keeper();
    k.commit(1, 20);
    const outcome = k.absorb(2, [message("late", 19), message("edge", 20)]);
    expect(outcome.late).toEqual([{ message: message("late", 19), reason: "late: eventTime 19 < watermark 20" }]);
    expect(outcome.failed).toEqual([]);
    k.commit(2, END_OF_TIME);
    expect(values(await k.closable())).toEqual([{ keys: ["k"], start: 20, end: 30, count: 1 }]);
  });

  it("allowedLateness keeps windows open behind the watermark and is named in the reason", async () => {
    const k = keeper(countReducer, { ...fixed10, allowedLateness: 5 });
    k.absorb(1, [message("a", 12)]);
    k.commit(1, 24);
    expect(await k.closable()).toEqual([]); // [10, 20) closes at 20 + 5
    const outcome = k.absorb(2, [message("lagging", 19), message("late", 18)]);
    expect(outcome.late.map(({ reason }) => reason)).toEqual(["late: eventTime 18 < watermark 24 − allowedLateness 5ms"]);
    k.commit(2, 25);
    expect(values(await k.closable())).toEqual([{ keys: ["k"], start: 10, end: 20, count: 2 }]);
  });

  it("nothing is late before the first watermark", () => {
    expect(keeper().absorb(1, [message("a", -1_000_000)]).late).toEqual([]);
  });
});

describe("epochs", () => {
  it("a redriven epoch (all its messages sent again) counts each message once", async () => {
    const k = keeper();
    k.absorb(1, [message("a", 1), message("b", 2)]);
    k.absorb(1, [message("a", 1), message("b", 2), message("c", 3)]);
    k.absorb(1, [message("c", 3)]);
    k.commit(1, END_OF_TIME);
    expect(values(await k.closable())).toEqual([{ keys: ["k"], start: 0, end: 10, count: 3 }]);
  });

  it("an epoch absorbed but never committed leaves no trace (its input is read again)", async () => {
    const k = keeper();
    k.absorb(1, [message("a", 1)]);
    k.absorb(2, [message("a", 1)]);
    expect(k.commit(2, undefined).set.size).toBe(1);
    k.absorb(3, [message("b", 1)]);
    k.commit(4, END_OF_TIME); // epoch 3 was not acked
    expect(values(await k.closable())).toEqual([{ keys: ["k"], start: 0, end: 10, count: 1 }]);
  });

  it("the change holds only the windows the epoch touched; removed sessions are listed", () => {
    const k = keeper();
    k.absorb(1, [message("a", 1), message("b", 11)]);
    expect([...k.commit(1, undefined).set.keys()]).toEqual(['0:10:["k"]', '10:20:["k"]']);
    k.absorb(2, [message("c", 12)]);
    const change = k.commit(2, undefined);
    expect([...change.set]).toEqual([['10:20:["k"]', '{"keys":["k"],"start":10,"end":20,"acc":2}']]);
    expect(change.remove).toEqual([]);
    expect(k.commit(3, 5)).toEqual({ set: new Map(), remove: [] });

    const sessions = keeper(countReducer, { window: { session: { timeout: 10 } }, keyed: true, allowedLateness: 0 });
    sessions.absorb(1, [message("a", 0), message("b", 15)]);
    sessions.commit(1, undefined);
    sessions.absorb(2, [message("bridge", 7)]);
    const merged = sessions.commit(2, undefined);
    expect([...merged.set]).toEqual([['0:25:["k"]', '{"keys":["k"],"start":0,"end":25,"acc":3}']]);
    expect([...merged.remove].sort()).toEqual(['0:10:["k"]', '15:25:["k"]']);
  });

  it("the committed watermark never goes down; an empty epoch still raises it", () => {
    const k = keeper();
    expect(k.watermark).toBeUndefined();
    k.commit(1, 100);
    k.commit(2, 50);
    k.commit(3, undefined);
    expect(k.watermark).toBe(100);
    expect(keeper(countReducer, fixed10, { watermark: 70 }).watermark).toBe(70);
  });
});

describe("closing windows", () => {
  it("closable: end <= watermark, by end, results with eventTime end − 1, the window's keys and pure ids", async () => {
    const k = keeper(countReducer, { ...fixed10, keyed: false });
    k.absorb(1, [message("a", 25, ["x"]), message("b", 3, ["y"]), message("c", 14), message("d", 31)]);
    k.commit(1, 30);
    const closed = await k.closable();
    expect(closed.map(({ field, start, end, keys }) => ({ field, start, end, keys }))).toEqual([
      { field: "0:10:[]", start: 0, end: 10, keys: [] },
      { field: "10:20:[]", start: 10, end: 20, keys: [] },
      { field: "20:30:[]", start: 20, end: 30, keys: [] },
    ]);
    expect(closed[2]!.results).toEqual([{ id: "v:20:30:[]", keys: [], value: encoder.encode('{"keys":[],"start":20,"end":30,"count":1}'), eventTime: 29, headers: {} }]);
    expect(await k.closable()).toEqual(closed); // until forgotten
    expect(k.openWindows()).toBe(4);
    expect(k.earliestOpenEnd()).toBe(10);
    k.forget(closed.map((window) => window.field));
    expect(await k.closable()).toEqual([]);
    expect(k.openWindows()).toBe(1);
    expect(k.earliestOpenEnd()).toBe(40);
  });

  it("open windows count only committed ones", () => {
    const k = keeper();
    k.absorb(1, [message("a", 1)]);
    expect(k.openWindows()).toBe(0);
    expect(k.earliestOpenEnd()).toBeUndefined();
    k.commit(1, undefined);
    expect(k.openWindows()).toBe(1);
  });

  it("several results get :<i>; a result may set its keys and tags", async () => {
    const reducer = toReducer(
      (keys: readonly string[], messages: readonly Message[]) => [
        { value: `first of ${messages.length}`, tags: ["big"] },
        { value: encoder.encode("second"), keys: ["other"] },
      ],
      "module m#two",
      fixed10,
    );
    const k = keeper(reducer);
    k.absorb(1, [message("a", 1)]);
    k.commit(1, 10);
    const [window] = await k.closable();
    expect(window!.results.map(({ id, keys, eventTime }) => ({ id, keys, eventTime }))).toEqual([
      { id: 'v:0:10:["k"]:0', keys: ["k"], eventTime: 9 },
      { id: 'v:0:10:["k"]:1', keys: ["other"], eventTime: 9 },
    ]);
    expect(decoder.decode(window!.results[0]!.value)).toBe("first of 1");
    expect(window!.tags).toEqual([["big"], undefined]);
  });

  it("a reducer that throws or returns no array while closing is a REDUCER_FAILED naming vertex and window", async () => {
    for (const reduce of [() => { throw new Error("boom"); }, () => "nope", () => [{ nothing: 1 }]]) {
      const k = keeper(toReducer(reduce, "module m#bad", fixed10));
      k.absorb(1, [message("a", 1)]);
      k.commit(1, 10);
      const failure = await k.closable().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ReduceError);
      expect((failure as ReduceError).code).toBe("REDUCER_FAILED");
      expect((failure as ReduceError).message).toContain(`module m#bad of vertex 'v' on window 0:10:["k"]`);
    }
  });
});

describe("messages a reducer refuses", () => {
  it("builtin sum: not JSON, no field, not a finite number → failed with the reason, not counted", async () => {
    const k = keeper(sumReducer("amount"));
    const bad = [message("text", 1, ["k"], "hello"), message("none", 2, ["k"], '{"other":1}'), message("string", 3, ["k"], '{"amount":"5"}'), message("huge", 4, ["k"], '{"amount":1e999}'), message("array", 5, ["k"], "[1]")];
    const outcome = k.absorb(1, [message("ok", 6, ["k"], '{"amount":2.5}'), ...bad]);
    expect(outcome.failed.map(({ message: m, reason }) => [m.id, reason])).toEqual([
      ["text", "sum: the value of message 'text' is not JSON; sum reads its field 'amount'"],
      ["none", "sum: field 'amount' of message 'none' is missing, not a finite number"],
      ["string", `sum: field 'amount' of message 'string' is "5", not a finite number`],
      ["huge", "sum: field 'amount' of message 'huge' is Infinity, not a finite number"],
      ["array", "sum: the value of message 'array' is not a JSON object; sum reads its field 'amount'"],
    ]);
    // Sent again (a retry), they fail again and the ok one is not counted twice.
    expect(k.absorb(1, [message("ok", 6, ["k"], '{"amount":2.5}'), ...bad]).failed).toHaveLength(5);
    k.commit(1, END_OF_TIME);
    expect(values(await k.closable())).toEqual([{ keys: ["k"], start: 0, end: 10, count: 1, sum: 2.5 }]);
  });

  it("a user's add that changes its accumulator then throws leaves the window as it was", async () => {
    const reducer = toReducer(
      {
        init: () => ({ ids: [] as string[] }),
        add: (acc: { ids: string[] }, m: Message) => {
          acc.ids.push(m.id);
          if (m.id.startsWith("bad")) throw new Error("no bad ids");
          return acc;
        },
        finish: (acc: { ids: string[] }) => [{ value: acc.ids.join(",") }],
      },
      "module m#ids",
      fixed10,
    );
    const k = keeper(reducer);
    const outcome = k.absorb(1, [message("a", 1), message("bad1", 2), message("b", 3)]);
    expect(outcome.failed.map(({ reason }) => reason)).toEqual(["module m#ids failed on message 'bad1': no bad ids"]);
    k.commit(1, 10);
    expect((await k.closable()).map((w) => decoder.decode(w.results[0]!.value))).toEqual(["a,b"]);
  });

  it("a user's add that returns nothing fails that message with what to return", () => {
    const reducer = toReducer({ init: () => 0, add: () => undefined, finish: () => [] }, "module m#forgets", fixed10);
    expect(keeper(reducer).absorb(1, [message("a", 1)]).failed[0]!.reason).toBe(
      "module m#forgets failed on message 'a': module m#forgets: add returned undefined; return the accumulator (a JSON value)",
    );
  });

  it("sliding windows: a refused message changes none of its windows", async () => {
    const k = keeper(sumReducer("n"), { window: { sliding: { length: 20, slide: 10 } }, keyed: true, allowedLateness: 0 });
    k.absorb(1, [message("bad", 15, ["k"], "{}"), message("ok", 15, ["k"], '{"n":1}')]);
    k.commit(1, END_OF_TIME);
    expect(values(await k.closable()).map((value) => (value as { count: number }).count)).toEqual([1, 1]);
  });
});

describe("restarts", () => {
  it("the batch form keeps raw messages (value as base64) and gives them back after a restart", async () => {
    const seen: Message[][] = [];
    const reducer = toReducer((_keys: readonly string[], messages: readonly Message[]) => {
      seen.push([...messages]);
      return [];
    }, "module m#raw", fixed10);
    const bytes = new Uint8Array([0, 255, 10, 13, 34]);
    const original: Message = { id: "bin", keys: ["k"], value: bytes, eventTime: 3, headers: { trace: "x" } };
    const first = keeper(reducer);
    first.absorb(1, [original]);
    const change = first.commit(1, undefined);
    const json = JSON.parse(change.set.get('0:10:["k"]')!) as { messages: Array<{ value: string }> };
    expect(json.messages[0]!.value).toBe(Buffer.from(bytes).toString("base64"));
    const second = keeper(reducer, fixed10, { stored: change.set, watermark: 5 });
    second.commit(1, 10);
    expect(await second.closable()).toHaveLength(1);
    expect(seen).toEqual([[original]]);
  });

  it("a keeper built from stored windows resumes them: later messages add to the same window", async () => {
    const first = keeper();
    first.absorb(1, [message("a", 1)]);
    const stored = new Map(first.commit(1, 0).set);
    const second = keeper(countReducer, fixed10, { stored, watermark: 0 });
    second.absorb(1, [message("b", 2)]);
    second.commit(1, 10);
    expect(values(await second.closable())).toEqual([{ keys: ["k"], start: 0, end: 10, count: 2 }]);
  });

  it("stored state it cannot read is a WINDOW_STATE_INVALID saying what to do", () => {
    const attempts: Array<[Reducer, Map<string, string>]> = [
      [countReducer, new Map([["not-a-field", "1"]])],
      [countReducer, new Map([['0:10:["k"]', "{not json"]])],
      [countReducer, new Map([['0:10:["k"]', '{"keys":["k"],"start":0,"end":10,"messages":[]}']])],
      [toReducer(() => [], "module m#batch", fixed10), new Map([['0:10:["k"]', '{"keys":["k"],"start":0,"end":10,"acc":1}']])],
    ];
    const messages = attempts.map(([reducer, stored]) => {
      try {
        keeper(reducer, fixed10, { stored });
        return "no error";
      } catch (error) {
        expect(error).toBeInstanceOf(ReduceError);
        expect((error as ReduceError).code).toBe("WINDOW_STATE_INVALID");
        return (error as ReduceError).message;
      }
    });
    expect(messages[0]).toContain("is no window field");
    expect(messages[2]).toContain("written by the batch reducer form");
    expect(messages[3]).toContain("written by the incremental reducer form");
    for (const text of messages) expect(text).toContain("weir reset");
  });
});

describe("window specs", () => {
  it("sliding with slide > length (refused by the spec rules) is refused here too: messages would fall in no window", () => {
    expect(() => keeper(countReducer, { window: { sliding: { length: 10, slide: 20 } }, keyed: true, allowedLateness: 0 })).toThrow(
      "vertex 'v': sliding slide (20ms) is longer than length (10ms); make slide at most length",
    );
  });
});

// Issue 12, session 11: a committed window's content is kept decoded when its reducer never changes a
// content it is given (builtins, a user's accumulator as JSON text), so an epoch that touches it does
// not parse the committed JSON again. A batch window (an array `add` pushes into) is parsed afresh.
describe("committed windows kept decoded", () => {
  it("an epoch adding to a committed window of a builtin reducer parses no JSON", async () => {
    const k = keeper();
    k.absorb(1, [message("a", 1)]);
    k.commit(1, undefined);
    const parse = vi.spyOn(JSON, "parse");
    try {
      k.absorb(2, [message("b", 2)]);
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
    k.commit(2, END_OF_TIME);
    expect(values(await k.closable())).toEqual([{ keys: ["k"], start: 0, end: 10, count: 2 }]);
  });

  it("windows restored from the store start decoded too, and an epoch never committed leaves them as they were", async () => {
    const k = keeper(countReducer, fixed10, { stored: new Map([['0:10:["k"]', '{"keys":["k"],"start":0,"end":10,"acc":5}']]) });
    k.absorb(1, [message("a", 1)]);
    k.absorb(2, [message("b", 2)]); // epoch 1 never committed: its message comes again
    k.commit(2, END_OF_TIME);
    expect(values(await k.closable())).toEqual([{ keys: ["k"], start: 0, end: 10, count: 6 }]);
  });
});
