import { describe, expect, it } from "vitest";
import { createGeneratorSource } from "../src/connectors/generator-source.js";

const signal = new AbortController().signal;
const decoder = new TextDecoder();

/** Every entry of one partition, read in batches of `max` until it ends. */
async function readAll(source: ReturnType<typeof createGeneratorSource>, partition: number, max: number) {
  const entries = [];
  for (;;) {
    const batch = await source.read(partition, { max, timeoutMs: 10, signal });
    entries.push(...batch.entries);
    if (batch.endOfStream) return entries;
  }
}

describe("generator source", () => {
  it("writes each value as its JSON padded with spaces to msgSize, with stable ids and offsets, across digit boundaries", async () => {
    const source = createGeneratorSource("in", 2, { rpu: 1_000_000_000, duration: 1, msgSize: 30, keyCount: 3, total: 2_100 });
    for (const partition of [0, 1]) {
      const entries = await readAll(source, partition, 97);
      expect(entries).toHaveLength(1_050);
      entries.forEach(({ offset, message }, seq) => {
        expect(offset).toBe(String(seq));
        expect(message.id).toBe(`in-${partition}-${seq}`);
        expect(message.keys).toEqual([`key-${(seq * 2 + partition) % 3}`]);
        expect(message.headers).toEqual({});
        const json = `{"seq":${seq},"partition":${partition}}`;
        expect(decoder.decode(message.value)).toBe(json.padEnd(30, " "));
        expect(message.value.length).toBe(30);
      });
    }
  });

  it("never cuts a value short: a value longer than msgSize keeps every byte", async () => {
    const source = createGeneratorSource("in", 1, { rpu: 1_000_000_000, duration: 1, msgSize: 4, keyCount: 0, total: 120, value: -7 });
    const entries = await readAll(source, 0, 50);
    expect(entries.map(({ message }) => decoder.decode(message.value))).toEqual(Array.from({ length: 120 }, (_, seq) => `{"value":-7,"seq":${seq}}`));
    expect(entries.every(({ message }) => message.keys.length === 0)).toBe(true);
  });

  it("gives each message a value of its own: writing into one changes no other", async () => {
    const source = createGeneratorSource("in", 1, { rpu: 1_000_000_000, duration: 1, msgSize: 16, keyCount: 0, total: 3 });
    const [a, b, c] = await readAll(source, 0, 3);
    a!.message.value.fill(0);
    expect(decoder.decode(b!.message.value)).toBe(`{"seq":1,"partition":0}`);
    expect(decoder.decode(c!.message.value)).toBe(`{"seq":2,"partition":0}`);
  });

  it("pads with spaces when msgSize exceeds what the longest value needs", async () => {
    const source = createGeneratorSource("in", 1, { rpu: 1_000_000_000, duration: 1, msgSize: 100, keyCount: 0, total: 12 });
    const entries = await readAll(source, 0, 12);
    for (const { message } of entries) {
      const text = decoder.decode(message.value);
      expect(text).toHaveLength(100);
      expect(text.trimEnd()).toMatch(/^\{"seq":\d+,"partition":0\}$/);
    }
  });
});
