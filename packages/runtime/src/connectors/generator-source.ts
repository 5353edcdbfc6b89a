/**
 * The `generator` source (Numaflow's fields plus `total`): `rpu` messages per `duration`,
 * spread over the vertex's partitions, with ids `<vertex>-<partition>-<seq>` that are unique
 * and stable (a re-read produces the same id for the same sequence number).
 */
import type { Message, ReadEntry } from "@weir/actors";
import type { GeneratorSpec } from "../spec/pipeline-spec.js";
import type { SourceConnector } from "./source-connector.js";

interface PartitionState {
  produced: number;
  readonly quota: number;
  startedAt: number;
}

const encoder = new TextEncoder();

export function createGeneratorSource(vertex: string, partitions: number, spec: GeneratorSpec): SourceConnector {
  const total = spec.total ?? Number.POSITIVE_INFINITY;
  const ratePerMs = spec.rpu / Math.max(1, spec.duration) / partitions;
  const keySets = Array.from({ length: spec.keyCount }, (_, k) => [`key-${k}`]);
  const states: PartitionState[] = Array.from({ length: partitions }, (_, p) => ({
    produced: 0,
    quota: Number.isFinite(total) ? Math.floor(total / partitions) + (p < total % partitions ? 1 : 0) : total,
    startedAt: -1,
  }));

  const makeMessage = (partition: number, seq: number, now: number): Message => {
    const body = spec.value === undefined ? `{"seq":${seq},"partition":${partition}}` : `{"value":${spec.value},"seq":${seq}}`;
    const text = body.length >= spec.msgSize ? body : body + " ".repeat(spec.msgSize - body.length);
    const jitter = spec.jitter === undefined ? 0 : Math.floor(Math.random() * spec.jitter);
    return {
      id: `${vertex}-${partition}-${seq}`,
      keys: keySets.length === 0 ? [] : keySets[(seq * partitions + partition) % keySets.length]!,
      value: encoder.encode(text),
      eventTime: now - jitter,
      headers: {},
    };
  };

  const available = (state: PartitionState, now: number) => {
    if (state.startedAt < 0) state.startedAt = now;
    const allowed = Math.floor((now - state.startedAt) * ratePerMs) + 1;
    return Math.max(0, Math.min(allowed, state.quota) - state.produced);
  };

  return {
    partitions,
    async read(partition, { max, timeoutMs, signal }) {
      const state = states[partition]!;
      let now = Date.now();
      let count = Math.min(max, available(state, now));
      if (count === 0 && state.produced < state.quota) {
        // Wait for the next message the rate allows, at most the read timeout.
        const untilNext = Math.ceil(state.produced / ratePerMs - (now - state.startedAt));
        await sleep(Math.max(1, Math.min(timeoutMs, untilNext)), signal);
        now = Date.now();
        count = signal.aborted ? 0 : Math.min(max, available(state, now));
      }
      const entries: ReadEntry[] = new Array(count);
      for (let i = 0; i < count; i += 1) {
        const seq = state.produced + i;
        entries[i] = { offset: String(seq), message: makeMessage(partition, seq, now) };
      }
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
