/**
 * The sink of examples/flow-control/ordered.yaml: it fails the first try of every 25th message
 * (its key's later messages are held back behind it, under `ordered`) and checks that every key's
 * messages arrive in the source's order — one that arrives after a later message of its key is
 * answered `fallback` ("out of order"), so the run summary's `fallback` shows any inversion.
 *
 *   sink: { module: { path: ./ordered-sink.ts } }
 */
import type { Message, SinkResult } from "@weir/actors";

const tried = new Set<string>();
const lastSeq = new Map<string, number>();

/** The generator's sequence number, from its value `{"seq":17,…}`. */
const seqOf = (message: Message) => Number(/"seq":(\d+)/.exec(new TextDecoder().decode(message.value))?.[1] ?? -1);

export default async (messages: readonly Message[]): Promise<SinkResult[]> =>
  messages.map((message): SinkResult => {
    const seq = seqOf(message);
    const first = !tried.has(message.id);
    tried.add(message.id);
    if (first && seq % 25 === 3) return { id: message.id, status: "failure", error: "first try fails (example)" };
    const key = message.keys.join(",");
    const last = lastSeq.get(key) ?? -1;
    if (seq < last) return { id: message.id, status: "fallback", reason: `out of order: seq ${seq} after ${last} of key ${key}` };
    lastSeq.set(key, seq);
    return { id: message.id, status: "ok" };
  });
