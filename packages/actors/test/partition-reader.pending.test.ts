import { describe, expect, it } from "vitest";
import { message } from "./support/messages.js";
import { runWired } from "./support/queued-io.js";
import { recordingSink, supervisorInput } from "./support/wired-supervisor.js";

// After a restart a reader first re-reads its consumer's pending entries, page by page; each page
// must start after the previous one, or a consumer holding more than one batch would re-read the
// first page forever and put those entries into the pipeline twice.
describe("partition reader: re-reading pending entries after a restart", () => {
  it("pages through more pending entries than one batch, each exactly once, then reads new ones", async () => {
    const pending = Array.from({ length: 250 }, (_, i) => ({ offset: String(i + 1).padStart(6, "0"), message: message(`old-${i}`) }));
    const fresh = Array.from({ length: 30 }, (_, i) => ({ offset: String(1000 + i), message: message(`new-${i}`) }));
    const afters: Array<string | undefined> = [];
    const delivered: string[] = [];
    const { output, acked } = await runWired({
      readBatch: async (input) => {
        if (input.fromPending) {
          afters.push(input.after);
          const start = input.after === undefined ? 0 : pending.findIndex((entry) => entry.offset > input.after!);
          return { entries: start < 0 ? [] : pending.slice(start, start + input.max), endOfStream: false };
        }
        const entries = fresh.splice(0, input.max);
        return { entries, endOfStream: entries.length === 0 };
      },
      write: recordingSink(delivered),
      input: supervisorInput({ readBatchSize: 100, startWithPending: true }),
    });
    expect(output.status).toBe("completed");
    expect(afters.slice(0, 3)).toEqual([undefined, "000100", "000200"]);
    expect(delivered).toHaveLength(280);
    expect(new Set(delivered).size).toBe(280);
    expect(new Set(acked).size).toBe(280);
  });
});
