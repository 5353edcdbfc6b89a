/**
 * Fault scenario 7a — bad input to the spec loader. fast-check mutates a valid spec (wrong types,
 * unknown keys, missing fields, weird durations, bad edges, deep nesting, huge strings, random
 * JSON values) and feeds it to `parseSpec`, and — as YAML or JSON text, sometimes mangled into
 * invalid syntax — to `loadSpec` through a temp file. Every failure must be a `SpecError` whose
 * issues each have a non-empty `path` and `message`; never another exception, never a slow call.
 * Seeded (WEIR_FAULTS_SEED), 200 runs per property.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSpec, parseSpec, SpecError } from "@weir/runtime";

const seed = Number(process.env["WEIR_FAULTS_SEED"] ?? "20240611") + 700;
/**
 * A hang guard, not a time budget: a call that never answers fails here with its input named
 * instead of the whole test timing out. How fast the loader is belongs in bench/, not in a unit
 * test that runs on a busy machine.
 */
const HANG_GUARD_MS = 30_000;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-spec-fuzz-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const validSpec = () => ({
  apiVersion: "weir.dev/v1",
  kind: "Pipeline",
  metadata: { name: "fuzz" },
  spec: {
    buffer: { type: "redis", url: "redis://127.0.0.1:1", keyPrefix: "fz", claimIdle: "1s" },
    limits: { readBatchSize: 50, readTimeout: "20ms", resultTimeout: "300ms", maxMessageSize: 1024 },
    vertices: [
      { name: "in", source: { generator: { total: 10, rpu: 10, duration: "1s", keyCount: 4 } } },
      { name: "cat", partitions: 2, udf: { builtin: { name: "cat" } }, retryStrategy: { backoff: { interval: "10ms", steps: 2 }, onFailure: "drop" } },
      {
        name: "out",
        partitions: 2,
        commit: "partition",
        sink: { jsonl: { path: "./out.jsonl" }, retryStrategy: { onFailure: "fallback" }, fallback: { jsonl: { path: "./dlq.jsonl" } } },
      },
    ],
    edges: [
      { from: "in", to: "cat" },
      { from: "cat", to: "out" },
    ],
  },
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const deep = (depth: number, leaf: Json): Json => {
  let value = leaf;
  for (let i = 0; i < depth; i += 1) value = i % 2 === 0 ? [value] : { nested: value };
  return value;
};

/** Values a mutation puts somewhere in the spec. */
const weirdValue: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  // Durations: units, signs, overflow, spaces, not-a-number.
  fc.constantFrom("0ms", "-1s", "1e309ms", "NaN", "Infinity", "1.5.2s", "10 ms", "1h30", "ms", "", " ", "9999999999999999999999d", "1y", "0x10s"),
  fc.constantFrom(-1, 0, 1.5, 1e308, -0, Number.MAX_SAFE_INTEGER + 2, 1_025, 100_001),
  fc.string({ minLength: 0, maxLength: 40, unit: "binary" }),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 50, max: 2_000 }).map((depth) => deep(depth, "leaf")),
  fc.constantFrom<Json>({ from: "in", to: "in" }, { from: "nope", to: "out" }, { from: "out", to: "in" }, [{ from: "in" }], { to: "cat" }),
  fc.constantFrom<Json>("__proto__", "constructor", "toString", "hasOwnProperty", { __proto__: { polluted: true } } as never, { constructor: { prototype: 1 } }),
);

type Mutation =
  | { readonly op: "set"; readonly at: number; readonly value: Json }
  | { readonly op: "delete"; readonly at: number }
  | { readonly op: "unknownKey"; readonly at: number; readonly key: string; readonly value: Json }
  | { readonly op: "wrap"; readonly at: number }
  | { readonly op: "duplicate"; readonly at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: weirdValue }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("unknownKey" as const), at: fc.nat(), key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("partiton", "sinks", "__proto__", "constructor", "")), value: weirdValue }),
  fc.record({ op: fc.constant("wrap" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat() }),
);

/** Every container path in the document (the root included) and every leaf path. */
function pathsOf(value: Json, at: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [at];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...pathsOf(item, [...at, i])));
  else if (value !== null && typeof value === "object") for (const key of Object.keys(value)) out.push(...pathsOf(value[key]!, [...at, key]));
  return out;
}

function mutate(doc: Json, mutations: readonly Mutation[]): Json {
  let root = doc;
  for (const m of mutations) {
    const paths = pathsOf(root).filter((p) => p.length < 12);
    const at = paths[m.at % paths.length]!;
    const parent = at.length === 0 ? undefined : (at.slice(0, -1).reduce<Json>((node, key) => (node as Record<string, Json>)[key as string]!, root) as Record<string | number, Json>);
    const key = at[at.length - 1]!;
    const current = parent === undefined ? root : parent[key]!;
    const put = (value: Json) => (parent === undefined ? (root = value) : (parent[key] = value));
    switch (m.op) {
      case "set":
        put(m.value);
        break;
      case "delete":
        if (parent === undefined) root = null;
        else if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key];
        break;
      case "unknownKey":
        if (current !== null && typeof current === "object" && !Array.isArray(current)) Object.defineProperty(current, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
        else put(m.value);
        break;
      case "wrap":
        put([current]);
        break;
      case "duplicate":
        if (Array.isArray(current) && current.length > 0) current.push(structuredClone(current[0]!));
        else put(structuredClone(current));
        break;
    }
  }
  return root;
}

const mutatedSpec = fc.array(mutation, { minLength: 1, maxLength: 6 }).map((mutations) => mutate(validSpec() as unknown as Json, mutations));


function expectSpecError(error: unknown, what: string): void {
  if (!(error instanceof SpecError)) throw new Error(`${what}: threw ${error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error)}, not a SpecError`, { cause: error });
  expect(error.issues.length, what).toBeGreaterThan(0);
  for (const issue of error.issues) {
    expect(typeof issue.path === "string" && issue.path.length > 0, `${what}: issue without a path: ${JSON.stringify(issue).slice(0, 300)}`).toBe(true);
    expect(typeof issue.message === "string" && issue.message.length > 0, `${what}: issue without a message: ${JSON.stringify(issue).slice(0, 300)}`).toBe(true);
  }
}

const timed = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      call(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${HANG_GUARD_MS} ms (a hang?)`)), HANG_GUARD_MS))),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

/** Ways to break YAML or JSON text. */
const mangle = fc.oneof(
  fc.constant((text: string) => text),
  fc.nat().map((n) => (text: string) => text.slice(0, n % (text.length + 1))),
  fc.tuple(fc.nat(), fc.constantFrom("{", "}", "[", "]", ":", "\t", "- ", "&a ", "*a", "!!binary ", "%YAML 9.9\n", "---\n", "\"", "'", "\u0000", "\ufeff", "? ", "|", ">")).map(
    ([n, junk]) =>
      (text: string) => {
        const at = n % (text.length + 1);
        return text.slice(0, at) + junk + text.slice(at);
      },
  ),
);

describe("spec loader fuzz (scenario 7a)", () => {
  it("parseSpec: a mutated spec parses or throws a SpecError with a path and message per issue", async () => {
    let failures = 0;
    await fc.assert(
      fc.asyncProperty(mutatedSpec, async (doc) => {
        await timed("parseSpec", async () => {
          try {
            parseSpec(doc, dir);
          } catch (error) {
            failures += 1;
            expectSpecError(error, "parseSpec");
          }
        });
      }),
      { seed, numRuns: 200 },
    );
    expect(failures, "most mutations make the spec invalid").toBeGreaterThan(100);
  });

  it("loadSpec: mutated specs as YAML or JSON files, some with broken syntax, throw only SpecErrors", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(mutatedSpec, fc.boolean(), mangle, async (doc, asJson, breakText) => {
        n += 1;
        const file = path.join(dir, `spec-${n}.${asJson ? "json" : "yaml"}`);
        let text: string;
        try {
          text = asJson ? JSON.stringify(doc) : stringify(doc, { aliasDuplicateObjects: false });
        } catch {
          text = JSON.stringify(doc); // a shape the YAML writer refuses (deep nesting): JSON is YAML too
        }
        await writeFile(file, breakText(text ?? "null"));
        await timed("loadSpec", async () => {
          try {
            await loadSpec(file);
          } catch (error) {
            expectSpecError(error, `loadSpec ${path.basename(file)}`);
          }
        });
      }),
      { seed, numRuns: 200 },
    );
  });

  // Regression (found by this fuzz): a misspelt role key reached the transform, which threw.
  it("parseSpec: a vertex with a misspelt role key (sourc:) is a SpecError, not an internal Error", () => {
    const doc = {
      apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name: "f" },
      spec: { vertices: [{ name: "in", sourc: { generator: { total: 1 } } }, { name: "out", sink: { log: {} } }], edges: [{ from: "in", to: "out" }] },
    };
    expect(() => parseSpec(doc, dir)).toThrow(SpecError);
  });

  it.each([
    ["an alias bomb (billion laughs)", `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n`],
    ["an undefined alias", "apiVersion: *nope\n"],
    ["a tab-indented document", "apiVersion: weir.dev/v1\nspec:\n\tvertices: []\n"],
    ["binary garbage", Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a]).toString("latin1")],
    ["a scalar document", "42\n"],
    ["an empty document", ""],
    ["nesting 5,000 deep", `${"[".repeat(5_000)}${"]".repeat(5_000)}\n`],
    ["a 5 MB string", `apiVersion: weir.dev/v1\nkind: Pipeline\nmetadata: { name: "${"n".repeat(5_000_000)}" }\n`],
    ["custom tags", "apiVersion: !!js/function 'function(){}'\nkind: !Pipeline x\n"],
    ["duplicate keys", "apiVersion: weir.dev/v1\napiVersion: weir.dev/v2\n"],
  ])("loadSpec: %s is a SpecError", async (_what, text) => {
    const file = path.join(dir, "fixed.yaml");
    await writeFile(file, text, "latin1");
    await timed("loadSpec", async () => {
      try {
        await loadSpec(file);
      } catch (error) {
        expectSpecError(error, "loadSpec");
        return;
      }
      throw new Error("loaded");
    });
  });
});
