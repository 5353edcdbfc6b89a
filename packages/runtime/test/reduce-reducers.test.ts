/** Loading a reduce vertex's reducer (issue #13): builtins, the two module forms told apart, and errors that say the fix. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "@weir/actors";
import type { GroupBySpec } from "../src/spec/reduce-spec.js";
import { ConnectorError } from "../src/connectors/connector-error.js";
import { countReducer } from "../src/reduce/builtin-reducers.js";
import { loadReducer, toReducer } from "../src/reduce/load-reducer.js";
import { ReduceError } from "../src/reduce/reduce-error.js";
import { createWindowKeeper } from "../src/reduce/window-keeper.js";
import { END_OF_TIME } from "../src/time/watermark.js";

const fixed: GroupBySpec = { window: { fixed: { length: 10 } }, keyed: true, allowedLateness: 0 };
const session: GroupBySpec = { window: { session: { timeout: 10 } }, keyed: true, allowedLateness: 0 };
const decoder = new TextDecoder();

const MODULE = [
  "export function batch(keys, messages, window, ctx) {",
  "  return [{ value: JSON.stringify({ keys, n: messages.length, window, vertex: ctx.vertex, partition: ctx.partition }) }];",
  "}",
  "export const incremental = {",
  "  init: (keys, window) => ({ n: 0, start: window.start }),",
  "  add: (acc, message) => ({ ...acc, n: acc.n + 1 }),",
  "  merge: (a, b) => ({ n: a.n + b.n, start: Math.min(a.start, b.start) }),",
  "  finish: async (acc, keys, window) => [{ value: `${keys.join('+')} ${acc.n} from ${acc.start} in [${window.start}, ${window.end})` }],",
  "};",
  "export const noMerge = { init: () => 0, add: (n) => n + 1, finish: (n) => [{ value: String(n) }] };",
  "export const notAReducer = 42;",
  "",
].join("\n");

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-reduce-"));
  file = path.join(dir, "reducers.mjs");
  await writeFile(file, MODULE);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusal(load: () => unknown): Promise<ReduceError> {
  const error: unknown = await (async () => load())().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ReduceError);
  return error as ReduceError;
}

async function closeAll(groupBy: GroupBySpec, exportName: string, times: readonly number[]): Promise<string[]> {
  const reducer = await loadReducer("agg", { module: { path: file, export: exportName } }, groupBy);
  const keeper = createWindowKeeper({ vertex: "agg", partition: 2, groupBy, reducer });
  keeper.absorb(1, times.map((eventTime, i): Message => ({ id: `m${i}`, keys: ["u1"], value: new Uint8Array(), eventTime, headers: {} })));
  keeper.commit(1, END_OF_TIME);
  return (await keeper.closable()).flatMap((window) => window.results.map((result) => decoder.decode(result.value)));
}

describe("loadReducer", () => {
  it("builtin count and sum", async () => {
    expect(await loadReducer("c", { builtin: { name: "count" } }, fixed)).toBe(countReducer);
    const sum = await loadReducer("s", { builtin: { name: "sum", field: "amount" } }, fixed);
    expect(sum).toMatchObject({ kind: "incremental", name: "builtin sum" });
  });

  it("a function export is the batch form: it gets the window's keys, messages, window and context", async () => {
    expect(await closeAll(fixed, "batch", [1, 2, 15])).toEqual([
      JSON.stringify({ keys: ["u1"], n: 2, window: { start: 0, end: 10 }, vertex: "agg", partition: 2 }),
      JSON.stringify({ keys: ["u1"], n: 1, window: { start: 10, end: 20 }, vertex: "agg", partition: 2 }),
    ]);
  });

  it("an object with init, add, (merge) and finish is the incremental form, on sessions too", async () => {
    expect(await closeAll(session, "incremental", [0, 15, 7, 40])).toEqual(["u1 3 from 0 in [0, 25)", "u1 1 from 40 in [40, 50)"]);
  });

  it("the incremental form without merge runs on fixed windows but is refused on sessions at load time", async () => {
    expect(await closeAll(fixed, "noMerge", [1, 2])).toEqual(["2"]);
    const error = await refusal(() => loadReducer("agg", { module: { path: file, export: "noMerge" } }, session));
    expect(error.code).toBe("REDUCER_MERGE_MISSING");
    expect(error.message).toBe(
      `reducer of vertex 'agg' (${file}#noMerge) runs on session windows, which merge when a message bridges two sessions, but it has no merge(a, b); add merge, or export the batch form (keys, messages, window, ctx) => results`,
    );
  });

  it("an export of neither shape is refused naming vertex, export and both shapes", async () => {
    const error = await refusal(() => loadReducer("agg", { module: { path: file, export: "notAReducer" } }, fixed));
    expect(error.code).toBe("REDUCER_INVALID");
    expect(error.message).toContain(`reducer of vertex 'agg' (${file}#notAReducer) is a number; export a function (keys, messages, window, ctx) => results, or an object { init(keys, window)`);
  });

  it("a missing module or export is the loader's ConnectorError", async () => {
    const missing = await loadReducer("agg", { module: { path: file, export: "nope" } }, fixed).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ConnectorError);
    expect((missing as ConnectorError).code).toBe("MODULE_EXPORT_MISSING");
    expect((missing as ConnectorError).message).toContain("reducer of vertex 'agg'");
  });

  it("a process is a batch reducer, whose processes start only when a window closes", async () => {
    const reducer = await loadReducer("r", { process: { command: ["python3", "reduce.py"] } }, fixed);
    expect([reducer.kind, reducer.name, typeof reducer.close]).toEqual(["batch", 'process reducer ["python3","reduce.py"]', "function"]);
    await reducer.close!();
  });

  it("a map builtin, or sum without field is no reducer", async () => {
    const cases = [
      [{ builtin: { name: "cat" } }, "builtin cat of vertex 'r' is no reducer; use builtin count or sum, or module: { path, export }"],
      [{ builtin: { name: "sum" } }, "builtin sum of vertex 'r' has no field; add field: <the top-level JSON number field to add up>"],
    ] as const;
    for (const [udf, message] of cases) {
      const error = await refusal(() => loadReducer("r", udf as Parameters<typeof loadReducer>[1], fixed));
      expect([error.code, error.message]).toEqual(["REDUCER_INVALID", message]);
    }
  });
});

describe("toReducer", () => {
  it("names what is missing from an incremental object, and a merge that is no function", async () => {
    expect((await refusal(() => toReducer({ init: () => 0, add: () => 0 }, "module m#x", fixed))).message).toBe(
      "module m#x is an object without finish as functions; export a function (keys, messages, window, ctx) => results, or an object { init(keys, window), add(acc, message), merge?(a, b), finish(acc, keys, window) }",
    );
    expect((await refusal(() => toReducer({ init: () => 0, add: () => 0, finish: () => [], merge: 1 }, "module m#x", fixed))).message).toBe(
      "module m#x: merge is a number, not a function (a, b) => accumulator; fix it or leave merge out",
    );
    expect((await refusal(() => toReducer(null, "module m#x", fixed))).message).toMatch(/^module m#x is null; export/);
  });
});
