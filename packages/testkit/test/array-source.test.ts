import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { createArraySource } from "../src/array-source.js";

describe("createArraySource", () => {
  it("leaves no abort listener behind after an empty read of an open partition times out", async () => {
    // A reader's signal lives as long as the reader (its readerIo is long-lived): a listener left per
    // idle read piles up (Node warned "MaxListenersExceededWarning … 11 abort listeners").
    const source = createArraySource([[]], { openPartitions: [0] });
    const controller = new AbortController();
    for (let i = 0; i < 12; i += 1) {
      const batch = await source.read({ vertex: "v", partition: 0, max: 10, timeoutMs: 0, fromPending: false }, controller.signal);
      expect(batch.entries).toEqual([]);
    }
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });
});
