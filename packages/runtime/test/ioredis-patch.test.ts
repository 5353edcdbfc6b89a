import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";

// patches/ioredis@6.0.0.patch (issue 12, session 11): ioredis gave every Pipeline — one per tick
// with auto-pipelining — its own `length` accessor, a closure over the pipeline defined with
// Object.defineProperty on an object that many keyed properties (one per defined script) had sent
// to dictionary mode. Dead pipelines in the old generation then kept their commands, and through
// the commands' promises the batches they carried, alive across scavenges (docs/design-notes.md,
// "Issue 12, session 11 — redis": gen → sink 4p promoted 67 → 50 MB per 1M messages). The patch
// makes `length` a getter on the prototype. This checks it is applied.
describe("ioredis, as patched for Weir", () => {
  it("gives a pipeline no accessor of its own, and its length still counts the queued commands", () => {
    const client = new Redis({ lazyConnect: true });
    try {
      const pipeline = client.pipeline();
      pipeline.get("a").set("b", "1");
      expect(Object.getOwnPropertyDescriptor(pipeline, "length")).toBeUndefined();
      expect(pipeline.length).toBe(2);
    } finally {
      client.disconnect();
    }
  });
});
