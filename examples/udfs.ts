/**
 * Example map UDFs for Weir (DESIGN §4.1). Use one from a spec:
 *
 *   udf: { module: { path: ./udfs.ts, export: enrich } }
 *
 * A map UDF takes one message and returns zero or more results; tags on a result drive the
 * conditional edges (`conditions: { tags: { values: [keep] } }`).
 *
 * The types are declared here, not imported, so this file stands alone; they mirror the
 * message and result shapes Weir passes (DESIGN §4.1).
 */

interface Message {
  readonly id: string;
  readonly keys: readonly string[];
  readonly value: Uint8Array;
  /** Milliseconds since the Unix epoch. */
  readonly eventTime: number;
  readonly headers: Readonly<Record<string, string>>;
}

interface UdfContext {
  readonly vertex: string;
  readonly partition: number;
  readonly signal: AbortSignal;
}

interface Result {
  readonly value: Uint8Array;
  readonly keys?: readonly string[];
  readonly tags?: readonly string[];
}

const encoder = new TextEncoder();

/**
 * Wraps each message in a small JSON record and tags it: `keep` for keyed messages, `unkeyed`
 * for the rest, so an edge with `tags: { values: [keep] }` forwards only keyed ones.
 */
export function enrich(message: Message, ctx: UdfContext): Result[] {
  const record = {
    id: message.id,
    key: message.keys[0] ?? null,
    bytes: message.value.byteLength,
    eventTime: new Date(message.eventTime).toISOString(),
    enrichedBy: `${ctx.vertex}/${ctx.partition}`,
  };
  return [
    {
      value: encoder.encode(JSON.stringify(record)),
      keys: message.keys,
      tags: [message.keys.length > 0 ? "keep" : "unkeyed"],
    },
  ];
}

export default enrich;
