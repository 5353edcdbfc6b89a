/**
 * The `generator` source (Numaflow's fields plus `total`): `rpu` messages per `duration`,
 * spread over the vertex's partitions, with ids `<vertex>-<partition>-<seq>` that are unique
 * and stable (a re-read produces the same id for the same sequence number).
 *
 * A value is `{"seq":<seq>,"partition":<p>}` (or `{"value":<value>,"seq":<seq>}`), padded with
 * spaces to `msgSize` bytes. It is written from pre-encoded template bytes, not built as a
 * string and encoded per message: the generator is the source of load tests, and its own cost
 * should not be what they measure.
 */
import type { Message, ReadEntry } from "@weir/actors";
import type { GeneratorSpec } from "../spec/pipeline-spec.js";
import { monotonicNow } from "../time/monotonic-clock.js";
import type { SourceConnector } from "./source-connector.js";

interface PartitionState {
  produced: number;
  readonly quota: number;
  startedAt: number;
}

/** A value's bytes around its sequence number. */
interface ValueTemplate {
  readonly prefix: Uint8Array;
  readonly suffix: Uint8Array;
}

const encoder = new TextEncoder();
const SPACE = 0x20;
const NO_KEYS: readonly string[] = Object.freeze([]);
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

export function createGeneratorSource(vertex: string, partitions: number, spec: GeneratorSpec): SourceConnector {
  const total = spec.total ?? Number.POSITIVE_INFINITY;
  const ratePerMs = spec.rpu / Math.max(1, spec.duration) / partitions;
  const keySets = Array.from({ length: spec.keyCount }, (_, k) => Object.freeze([`key-${k}`]));
  const states: PartitionState[] = Array.from({ length: partitions }, (_, p) => ({
    produced: 0,
    quota: Number.isFinite(total) ? Math.floor(total / partitions) + (p < total % partitions ? 1 : 0) : total,
    startedAt: -1,
  }));
  const templates: ValueTemplate[] = Array.from({ length: partitions }, (_, p) =>
    spec.value === undefined
      ? { prefix: encoder.encode(`{"seq":`), suffix: encoder.encode(`,"partition":${p}}`) }
      : { prefix: encoder.encode(`{"value":${spec.value},"seq":`), suffix: encoder.encode(`}`) },
  );
  const idPrefixes = Array.from({ length: partitions }, (_, p) => `${vertex}-${p}-`);

  const available = (state: PartitionState, now: number) => {
    if (state.startedAt < 0) state.startedAt = now;
    const allowed = Math.floor((now - state.startedAt) * ratePerMs) + 1;
    return Math.max(0, Math.min(allowed, state.quota) - state.produced);
  };

  /**
   * `count` messages from `first` on, their values views into one buffer for the whole batch. Per
   * message it allocates what a message is (its id, offset, object, entry and value view) and no
   * more (issue 12): the padding is laid in one `fill` for the batch, the template bytes are copied
   * by hand (`set` costs more than it copies for a dozen bytes), and a view is built with
   * `new Uint8Array(buffer, …)`, about half the cost of `subarray`'s species lookup.
   */
  const makeEntries = (partition: number, first: number, count: number, now: number): ReadEntry[] => {
    const { prefix, suffix } = templates[partition]!;
    const idPrefix = idPrefixes[partition]!;
    const msgSize = spec.msgSize;
    const jitter = spec.jitter;
    const lastDigits = String(first + count - 1).length;
    // Sequence numbers only grow, so the last one has the most digits: a bound for every value.
    const slot = Math.max(msgSize, prefix.length + lastDigits + suffix.length);
    const bytes = new Uint8Array(slot * count).fill(SPACE);
    const buffer = bytes.buffer;
    const entries: ReadEntry[] = new Array(count);
    let pos = 0;
    for (let i = 0; i < count; i += 1) {
      const seq = first + i;
      const digits = String(seq);
      const start = pos;
      for (let b = 0; b < prefix.length; b += 1) bytes[pos++] = prefix[b]!;
      for (let d = 0; d < digits.length; d += 1) bytes[pos++] = digits.charCodeAt(d);
      for (let b = 0; b < suffix.length; b += 1) bytes[pos++] = suffix[b]!;
      // Spaces are already there up to the slot's end; a value shorter than msgSize takes them.
      pos = Math.max(pos, start + msgSize);
      const message: Message = {
        id: idPrefix + digits,
        keys: keySets.length === 0 ? NO_KEYS : keySets[(seq * partitions + partition) % keySets.length]!,
        value: new Uint8Array(buffer, start, pos - start),
        eventTime: jitter === undefined ? now : now - Math.floor(Math.random() * jitter),
        headers: NO_HEADERS,
      };
      entries[i] = { offset: digits, message };
    }
    return entries;
  };

  return {
    partitions,
    async read(partition, { max, timeoutMs, signal }) {
      const state = states[partition]!;
      // The rate runs on the monotonic clock (a stepped wall clock must not burst or stall it);
      // eventTime is a timestamp, so it stays wall-clock time.
      let now = monotonicNow();
      let count = Math.min(max, available(state, now));
      if (count === 0 && state.produced < state.quota) {
        // Wait for the next message the rate allows, at most the read timeout.
        const untilNext = Math.ceil(state.produced / ratePerMs - (now - state.startedAt));
        await sleep(Math.max(1, Math.min(timeoutMs, untilNext)), signal);
        now = monotonicNow();
        count = signal.aborted ? 0 : Math.min(max, available(state, now));
      }
      const entries = count === 0 ? [] : makeEntries(partition, state.produced, count, Date.now());
      state.produced += count;
      return { entries, endOfStream: state.produced >= state.quota };
    },
    // A generator has nothing to acknowledge: what it made is remade from the same sequence.
    ack: async () => undefined,
    close: async () => undefined,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
