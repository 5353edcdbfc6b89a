import { describe, expect, it } from "vitest";
import { initialTransition } from "xstate";
import { batcherMachine, partitionReaderMachine, type BatcherContext, type PartitionReaderContext } from "@weir/actors";
import { readCount } from "../src/ui/live-sampler.js";

// The machines' own initial contexts (XState's pure `initialTransition`: nothing is started), so the
// fixtures follow the contexts' shape instead of copying it.
const initialReader = initialTransition(partitionReaderMachine, { vertex: "v", partition: 0, readBatchSize: 100, readTimeoutMs: 10 })[0].context;
const initialBatcher = initialTransition(batcherMachine, { vertex: "v", partition: 0, readBatchSize: 100 })[0].context;

const reader = (over: Partial<PartitionReaderContext>): PartitionReaderContext => ({ ...initialReader, ...over });
const batcher = (openCount: number): BatcherContext => ({ ...initialBatcher, openCount });

// Issue 12, session 8: a seal extends a reader's running grant, and the reader counts what its
// readerIo handed over only when the grant ends, so during a long grant its `unsealed` is far below
// what the batcher holds (negative after a few epochs). The dashboard's read count took it as is.
describe("the dashboard's read count", () => {
  it("counts what the batcher holds unsealed, not the reader's count that lags during a grant", () => {
    // 1,000 acked, one sealed epoch of 40 awaiting its commit, 25 in the open epoch; the running
    // grant has handed over 1,065 entries the reader has not counted yet, and it took 1,040 in seals.
    const during = reader({ acked: 1_000, sealed: [{ epoch: 12, offsets: Array.from({ length: 40 }, (_, i) => String(i)) }], unsealed: -1_040 });
    expect(readCount(during, batcher(25))).toBe(1_065);
  });

  it("uses the reader's own count when there is no batcher (a reader on its own)", () => {
    expect(readCount(reader({ acked: 10, unsealed: 5 }), undefined)).toBe(15);
  });
});
