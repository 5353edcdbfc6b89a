import { describe, expect, it } from "vitest";
import { WatermarkView } from "../src/buffer/watermark-view.js";
import { holderOf } from "../src/ui/watermark-holder.js";
import { HOLD_MARK } from "../src/time/watermark.js";

describe("holderOf: what holds a reader's watermark back", () => {
  it("names the writer with the lowest live mark, its processor, and since when it has held that watermark", () => {
    const view = new WatermarkView(["a/0", "a/1"], 10_000);
    view.meet("a/0", "w1", 100, 1);
    view.meet("a/1", "w2", 40, 2);
    view.meet("a/1", "w2", 40, 3); // a keep-alive: held since the first mark
    view.meet("a/0", "w1", 120, 4);
    expect(view.current()).toBe(40);
    expect(holderOf(view.state())).toEqual({ writer: "a/1", processor: "w2", watermark: 40, since: 2, live: true });
    expect(view.state()).toMatchObject({ watermark: 40, at: 4 });
  });

  it("names a writer that never marked, which keeps the watermark undefined", () => {
    const view = new WatermarkView(["a/0", "a/1"], undefined);
    view.meet("a/0", "w1", 100, 1);
    expect(view.current()).toBeUndefined();
    expect(holderOf(view.state())).toEqual({ writer: "a/1", processor: null, watermark: null, since: null, live: false });
  });

  it("ignores a dead processor once a live one of the same writer marks; with none live, keeps the newest", () => {
    const view = new WatermarkView(["a/0"], 10);
    view.meet("a/0", "dead", 5, 1);
    view.meet("a/0", "live", 50, 20);
    expect(holderOf(view.state())).toMatchObject({ writer: "a/0", processor: "live", watermark: 50, live: true });
    // Every processor of a/0 stopped marking while a/1 goes on: a/0's newest one still holds it back.
    const stalled = new WatermarkView(["a/0", "a/1"], 10);
    stalled.meet("a/0", "old", 5, 1);
    stalled.meet("a/0", "gone", 7, 2);
    stalled.meet("a/1", "w", 90, 30);
    expect(holderOf(stalled.state())).toEqual({ writer: "a/0", processor: "gone", watermark: 7, since: 2, live: false });
  });

  it("names a worker's hold mark (it has not marked yet) as the holder, with no watermark", () => {
    const view = new WatermarkView(["a/0", "a/1"], undefined);
    view.meet("a/0", "w1", 100, 1);
    view.meet("a/0", "w2", HOLD_MARK, 2);
    view.meet("a/1", "w3", 50, 3);
    expect(holderOf(view.state())).toEqual({ writer: "a/0", processor: "w2", watermark: null, since: 2, live: true });
  });
});
