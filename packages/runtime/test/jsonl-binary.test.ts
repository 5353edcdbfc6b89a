/**
 * Fault scenario 7b — message values that are not valid UTF-8 through the `jsonl` sink (plain and
 * `exactlyOnce`). The sink writes `value` as UTF-8 text (toJsonLine: a non-fatal TextDecoder), so
 * every invalid sequence becomes U+FFFD: documented, accepted behaviour — the line is valid JSON,
 * nothing crashes and no message is lost, but the original bytes of a binary value cannot be
 * recovered from the file (a sink that must keep bytes should be a module/process sink that
 * encodes them, e.g. as base64). Valid multi-byte text (é, 😀, NUL) survives byte-exact.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Message } from "@weir/actors";
import { createPipeline, parseSpec } from "@weir/runtime";
import { listSource } from "./support/list-source.js";

const bytes = (...values: number[]) => Uint8Array.from(values);
/** id → value bytes: invalid UTF-8 of every kind, and valid text for contrast. */
const values: Record<string, Uint8Array> = {
  "lone-ff": bytes(0xff),
  "lone-continuation": bytes(0x61, 0x80, 0x62),
  "truncated-2byte": bytes(0x61, 0xc3),
  "truncated-4byte": bytes(0xf0, 0x9f, 0x98),
  "overlong-slash": bytes(0xc0, 0xaf),
  "cesu-surrogate": bytes(0xed, 0xa0, 0x80),
  "above-10ffff": bytes(0xf4, 0x90, 0x80, 0x80),
  "random-binary": Uint8Array.from({ length: 256 }, (_, i) => (i * 167 + 13) & 0xff),
  "bom-and-quote": bytes(0xef, 0xbb, 0xbf, 0x22, 0x5c, 0x0a, 0x0d),
  "valid-text": new TextEncoder().encode('é 😀 \u0000 "quoted"\n'),
  empty: bytes(),
};
const messages: Message[] = Object.entries(values).map(([id, value], i) => ({ id, keys: [], value, eventTime: i, headers: {} }));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "weir-jsonl-binary-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("non-UTF-8 values through the jsonl sink (scenario 7b)", () => {
  it.each([false, true])("exactlyOnce %s: every message is written once, invalid bytes as U+FFFD, nothing crashes", async (exactlyOnce) => {
    const file = path.join(dir, `out-${exactlyOnce}.jsonl`);
    const spec = parseSpec(
      {
        apiVersion: "weir.dev/v1",
        kind: "Pipeline",
        metadata: { name: "binary" },
        spec: {
          limits: { readBatchSize: 4, readTimeout: "10ms" },
          vertices: [
            { name: "in", source: { generator: { total: 1 } } },
            { name: "out", partitions: 2, sink: { jsonl: { path: file, ...(exactlyOnce ? { exactlyOnce: true } : {}) } } },
          ],
          edges: [{ from: "in", to: "out" }],
        },
      },
      dir,
    );
    const summary = await createPipeline(spec, { sources: { in: listSource(messages) } }).start();
    expect(summary.status).toBe("completed");
    expect(summary.vertices["out"]).toMatchObject({ ok: messages.length, fallback: 0, dropped: 0, protocolErrors: 0 });

    const text = await readFile(file, "utf8");
    const lines = text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as { id: string; value: string });
    expect(lines.map((line) => line.id).sort()).toEqual(Object.keys(values).sort());
    // The file itself is valid UTF-8: a fatal decoder reads it back.
    expect(() => new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(Buffer.from(text)))).not.toThrow();
    for (const line of lines) {
      const original = values[line.id]!;
      // What the sink promises: the value as a non-fatal UTF-8 decoder reads it.
      expect(line.value, line.id).toBe(new TextDecoder("utf-8", { ignoreBOM: true }).decode(original));
      const roundTrips = Buffer.compare(Buffer.from(line.value, "utf8"), Buffer.from(original)) === 0;
      const valid = (() => {
        try {
          new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(original);
          return true;
        } catch {
          return false;
        }
      })();
      // Valid UTF-8 survives byte-exact, a leading BOM included; invalid UTF-8 does not (U+FFFD in its place).
      expect(roundTrips, line.id).toBe(valid);
      if (!valid) expect(line.value, line.id).toContain("\ufffd");
    }
  });

  // Regression (found by the bad-input suite): a TextDecoder without ignoreBOM dropped a leading
  // U+FEFF, silently changing a valid UTF-8 value.
  it("a value starting with a BOM keeps it", async () => {
    const file = path.join(dir, "bom.jsonl");
    const spec = parseSpec(
      {
        apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name: "bom" },
        spec: { vertices: [{ name: "in", source: { generator: { total: 1 } } }, { name: "out", sink: { jsonl: { path: file } } }], edges: [{ from: "in", to: "out" }] },
      },
      dir,
    );
    await createPipeline(spec, { sources: { in: listSource(messages.filter((m) => m.id === "bom-and-quote")) } }).start();
    const line = JSON.parse((await readFile(file, "utf8")).trim()) as { value: string };
    expect(line.value).toBe('\ufeff"\\\n\r');
  });
});
