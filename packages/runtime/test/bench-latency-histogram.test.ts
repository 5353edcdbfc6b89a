import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "../../../bench/scenarios/latency-histogram.js";

/** What the bench reported before the histogram: the sample at rank floor(q × n) of the sorted samples. */
function sortedQuantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe("bench's latency histogram", () => {
  it("answers exactly what sorting every sample answers, for whole milliseconds and for samples outside the bins", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const samples: number[] = [];
    for (let i = 0; i < 20_000; i += 1) samples.push(Math.floor(random() * 300));
    // A clock step backwards, fractions from another clock, stalls beyond the bins.
    samples.push(-5, -0.5, 2.5, 17.25, 70_000, 1e9, 65_535, 65_536);
    const histogram = new LatencyHistogram();
    for (const sample of samples) histogram.record(sample);
    expect(histogram.count).toBe(samples.length);
    for (const q of [0, 0.0001, 0.25, 0.5, 0.9, 0.99, 0.9999, 1]) expect(histogram.quantile(q), `q ${q}`).toBe(sortedQuantile(samples, q));
  });

  it("ranks samples outside the bins among the others", () => {
    const histogram = new LatencyHistogram();
    for (const sample of [-3, 1, 1.5, 2, 100_000]) histogram.record(sample);
    expect([0, 0.2, 0.4, 0.6, 0.8, 1].map((q) => histogram.quantile(q))).toEqual([-3, 1, 1.5, 2, 100_000, 100_000]);
  });

  it("has no quantile without samples", () => {
    expect(new LatencyHistogram().quantile(0.5)).toBeUndefined();
  });
});
