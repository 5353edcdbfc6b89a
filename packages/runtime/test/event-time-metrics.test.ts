import { describe, expect, it } from "vitest";
import { createPipelineMetrics } from "../src/observability/pipeline-metrics.js";
import { emptyCounts, type VertexCounts } from "../src/observability/vertex-counters.js";
import { END_OF_TIME } from "../src/time/watermark.js";
import { parseMetrics, sumMetric } from "./support/weir-cli.js";

function setup() {
  const wall = { now: 1_700_000_010_000 };
  const counts: Record<string, VertexCounts> = { sums: emptyCounts() };
  const metrics = createPipelineMetrics({ pipeline: "p", processMetrics: false, counts: () => counts, wallNow: () => wall.now });
  const scrape = async () => parseMetrics(await metrics.metrics());
  return { wall, counts, metrics, scrape };
}

describe("event-time metrics", () => {
  it("weir_watermark is a partition's committed watermark in ms, and never goes back", async () => {
    const { metrics, scrape } = setup();
    metrics.eventTime.watermark("sums", 1, 1_700_000_000_000);
    metrics.eventTime.watermark("sums", 1, 1_699_999_999_000);
    const values = await scrape();
    expect(values.get('weir_watermark{pipeline="p",vertex="sums",partition="1"}')).toBe(1_700_000_000_000);
  });

  it("weir_watermark_lag_seconds is wall-now minus the watermark at the scrape, absent once the input ended", async () => {
    const { wall, metrics, scrape } = setup();
    metrics.eventTime.watermark("sums", 0, 1_700_000_000_000);
    metrics.eventTime.watermark("sums", 1, 1_700_000_000_000);
    expect((await scrape()).get('weir_watermark_lag_seconds{pipeline="p",vertex="sums",partition="0"}')).toBe(10);
    wall.now += 5_000; // the watermark stalls: the lag grows
    metrics.eventTime.watermark("sums", 1, END_OF_TIME);
    const values = await scrape();
    expect(values.get('weir_watermark_lag_seconds{pipeline="p",vertex="sums",partition="0"}')).toBe(15);
    expect(values.has('weir_watermark_lag_seconds{pipeline="p",vertex="sums",partition="1"}')).toBe(false);
    expect(values.get('weir_watermark{pipeline="p",vertex="sums",partition="1"}')).toBe(END_OF_TIME);
  });

  it("weir_open_windows is what the runtime last reported", async () => {
    const { metrics, scrape } = setup();
    metrics.eventTime.openWindows("sums", 0, 4);
    metrics.eventTime.openWindows("sums", 0, 2);
    expect((await scrape()).get('weir_open_windows{pipeline="p",vertex="sums",partition="0"}')).toBe(2);
  });

  it("weir_reduce_state_bytes is the state size the runtime last reported", async () => {
    const { metrics, scrape } = setup();
    metrics.eventTime.stateSize("sums", 1, 900);
    metrics.eventTime.stateSize("sums", 1, 300);
    expect((await scrape()).get('weir_reduce_state_bytes{pipeline="p",vertex="sums",partition="1"}')).toBe(300);
  });

  it("weir_late_total follows the vertex counters' late", async () => {
    const { counts, scrape } = setup();
    counts["sums"]!.late = 3;
    expect(sumMetric(await scrape(), "weir_late_total", { vertex: "sums" })).toBe(3);
    counts["sums"]!.late = 5;
    expect(sumMetric(await scrape(), "weir_late_total", { vertex: "sums" })).toBe(5);
  });
});
