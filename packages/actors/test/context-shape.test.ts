import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import {
  batcherMachine,
  defaultRetryPolicy,
  partitionReaderMachine,
  sinkSessionMachine,
  supervisorMachine,
  windowKeeperMachine,
} from "@weir/actors";

/**
 * Issue 12: every `assign` copies the context (`Object.assign({}, context, update)`), and XState's
 * first one builds it from `{}` property by property. An object literal `{}` has 4 in-object
 * slots; past about 12 further properties V8 may give the copy a dictionary ("slow mode") instead
 * of a hidden class, and every later copy of a dictionary is a dictionary again: the supervisor's
 * 22-key context cost ~4 µs and ~1 KB per assign (a few hundred ns when fast) and made every
 * context read a hash lookup. So contexts keep at most 16 top-level keys; settings that only
 * travel to children are grouped.
 */
const MAX_CONTEXT_KEYS = 16;

const contextKeys = (actor: { getSnapshot(): { context: object } }) => Object.keys(actor.getSnapshot().context).length;

describe("machine contexts stay small enough for V8's fast properties", () => {
  it(`has at most ${MAX_CONTEXT_KEYS} top-level keys in every machine's context`, () => {
    const counts = {
      supervisor: contextKeys(
        createActor(supervisorMachine, {
          input: { vertex: "v", partitions: 2, readBatchSize: 10, readTimeoutMs: 5, maxInflightEpochs: 2, retry: defaultRetryPolicy, resultTimeoutMs: 100 },
        }),
      ),
      partitionReader: contextKeys(createActor(partitionReaderMachine, { input: { vertex: "v", partition: 0, readBatchSize: 10, readTimeoutMs: 5 } })),
      batcher: contextKeys(createActor(batcherMachine, { input: { vertex: "v", partition: 0, readBatchSize: 10 } })),
      sinkSession: contextKeys(createActor(sinkSessionMachine, { input: { vertex: "v", partition: 0, retry: defaultRetryPolicy, resultTimeoutMs: 100 } })),
      windowKeeper: contextKeys(createActor(windowKeeperMachine, { input: { vertex: "v", partition: 0 } })),
    };
    expect(Object.entries(counts).filter(([, keys]) => keys > MAX_CONTEXT_KEYS)).toEqual([]);
  });

  it("keeps every context of a whole vertex's run in fast mode (fresh V8 process)", () => {
    const probe = fileURLToPath(new URL("./support/fast-context-probe.ts", import.meta.url));
    const out = execFileSync(process.execPath, ["--allow-natives-syntax", "--import", "tsx", probe], { encoding: "utf8" });
    const report = JSON.parse(out) as { status: string; machines: Record<string, { snapshots: number; slow: number }> };
    expect(report.status).toBe("completed");
    expect(Object.keys(report.machines).sort()).toEqual(["batcher", "partitionReader", "sinkSession", "supervisor"]);
    expect(Object.entries(report.machines).filter(([, { slow }]) => slow > 0)).toEqual([]);
  });
});
