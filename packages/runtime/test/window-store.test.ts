import { MemoryBuffer } from "../src/buffer/index.js";
import { createMemoryWindowStore } from "../src/reduce/memory-window-store.js";
import { describeWindowStoreConformance } from "./window-store-conformance.js";

describeWindowStoreConformance("memory window store", async () => {
  const buffer = new MemoryBuffer({ name: "ws.reduce", partitions: 2, maxLength: 100, usageLimit: 1, upstreams: [] });
  return {
    buffer,
    store: (consumer) => createMemoryWindowStore({ buffer, consumer }),
    close: () => buffer.close(),
  };
});
