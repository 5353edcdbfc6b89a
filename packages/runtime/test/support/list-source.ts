import type { Message } from "@weir/actors";
import type { SourceConnector } from "../../src/connectors/source-connector.js";

/** A bounded source of fixed messages on one partition: it ends once every message was read. */
export function listSource(messages: readonly Message[]): SourceConnector {
  let next = 0;
  return {
    partitions: 1,
    async read(_partition, { max }) {
      const start = next;
      const batch = messages.slice(start, start + max);
      next += batch.length;
      return { entries: batch.map((message, i) => ({ offset: String(start + i), message })), endOfStream: next >= messages.length };
    },
    async ack() {},
    async close() {},
  };
}
