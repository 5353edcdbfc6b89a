/**
 * The dashboard end to end, in a real browser (issue #14): `weir run --ui` shows the graph, live
 * rates, a partition's statechart in its current state and the EOT join of an epoch held by one
 * slow partition; `weir ui` shows a SIGKILLed worker dead with its pending entries and who claimed
 * them, and a reduce vertex's watermarks, what holds them back and its open windows (from Redis).
 * The page makes no request to any host but the one that served it. Screenshots go to a
 * temporary directory; with WEIR_UPDATE_SCREENSHOTS=1 they replace docs/img/ (shown in the README and
 * docs/dashboard.md), so a plain test run never leaves the checkout modified.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { foreignRequests, hasChromium, launchBrowser, openPage } from "./support/browser.js";
import { startRedisServer, type RedisServer } from "./support/redis-server.js";
import { ensureBuilt, repoRoot, startWeir, type WeirProcess } from "./support/weir-cli.js";
import { parseSpec } from "../src/spec/load-spec.js";
import { startDashboardServer } from "../src/ui/dashboard-server.js";
import { noDeadLetters } from "../src/ui/dead-letter-view.js";
import { pipelineGraph } from "../src/ui/pipeline-graph.js";
import { buildSnapshot } from "../src/ui/snapshot.js";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const screenshotDir = process.env["WEIR_UPDATE_SCREENSHOTS"] === "1" ? path.join(repoRoot, "docs/img") : path.join(tmpdir(), "weir-dashboard-screenshots");
const screenshot = (name: string) => path.join(screenshotDir, name);
const URL_LINE = /dashboard (of '[^']+' )?at (http:\/\/127\.0\.0\.1:\d+\/)/;

describe.skipIf(!hasChromium())("the dashboard in a browser", () => {
  let browser: Browser;
  let dir: string;
  const processes: WeirProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(path.join(tmpdir(), "weir-dashboard-"));
    browser = await launchBrowser();
  });
  afterEach(() => {
    for (const weir of processes.splice(0)) if (weir.child.exitCode === null) weir.child.kill("SIGKILL");
  });
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const start = (args: string[], env: Record<string, string> = {}) => {
    const weir = startWeir(args, env);
    processes.push(weir);
    return weir;
  };
  const urlOf = async (weir: WeirProcess) => URL_LINE.exec(await weir.waitFor(URL_LINE, "stderr", 60_000))![2]!;

  it("weir run --ui: graph, rates, a partition's statechart, and the EOT join held by a slow partition", { timeout: 180_000 }, async () => {
    const holdFile = path.join(dir, "hold");
    const spec = path.join(dir, "held.yaml");
    await writeFile(
      spec,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        "metadata: { name: held }",
        "spec:",
        "  buffer: { type: memory }",
        "  limits: { readBatchSize: 20, readTimeout: 20ms, resultTimeout: 10m }",
        "  vertices:",
        "    - { name: in, source: { generator: { total: 1000000, rpu: 400, duration: 1s, keyCount: 16 } } }",
        "    - { name: enrich, partitions: 2, udf: { builtin: { name: cat } } }",
        `    - { name: out, partitions: 3, sink: { module: { path: "${fixture("held-partition-sink.mjs")}" } } }`,
        "  edges:",
        "    - { from: in, to: enrich }",
        "    - { from: enrich, to: out }",
        "",
      ].join("\n"),
    );
    const weir = start(["run", spec, "--ui=0", "--allow-modules-outside", "--json"], { WEIR_TEST_HOLD_FILE: holdFile });
    const url = await urlOf(weir);
    const { page, requests } = await openPage(browser, url);

    // The graph: every vertex, the edges, each sink partition clickable.
    await page.waitForSelector('svg#graph g.vertex[data-vertex="out"] rect.partition[data-partition="2"]');
    expect(await page.locator("svg#graph g.vertex").count()).toBe(3);
    expect(await page.locator("svg#graph g.edge-group").count()).toBe(2);
    // Live rates: a partition of `out` reads and acks messages per second.
    await page.locator('#partitions tr[data-vertex="out"] td.ack-rate').filter({ hasNotText: /^0\.0$/ }).first().waitFor();
    // Flow control's vertex-wide counts (docs/flow-control.md) sit on the vertex's row.
    await page.locator('#partitions tr.vertex-total[data-vertex="out"] td.retried-later').filter({ hasText: /^0$/ }).waitFor();
    await page.locator('#partitions tr.vertex-total[data-vertex="out"] td.held-back').filter({ hasText: /^0$/ }).waitFor();
    await page.screenshot({ path: screenshot("dashboard-run.png"), fullPage: true });

    // Hold partition 1: the next epoch of `out` waits for it alone.
    await writeFile(holdFile, "");
    await page.waitForSelector('.epoch[data-vertex="out"] .join-part.eotReceived[data-partition="1"]');
    const held = page.locator('.epoch[data-vertex="out"]').filter({ hasText: /waiting for partition 1 for/ }).first();
    await held.waitFor();
    const heldEpoch = await held.getAttribute("data-epoch");
    expect(await held.locator(".join-part.done").count()).toBeGreaterThan(0);

    // Click partition 1: its sink session's statechart, with the live state highlighted.
    await page.click('svg#graph rect.partition[data-vertex="out"][data-partition="1"]');
    const session = page.locator('.statechart[data-path="out/sink/1"]');
    await session.locator(".current-state").filter({ hasText: /^state: (writing|awaitingResults)$/ }).waitFor();
    await session.locator('.state.active[data-id="sinkSession.writing"], .state.active[data-id="sinkSession.awaitingResults"]').waitFor();
    await page.locator('.statechart[data-path="out/reader/1"]').waitFor();
    await page.locator('.statechart[data-path="out/batcher/1"]').waitFor();
    expect(await session.locator(".events li").count()).toBeGreaterThan(0);
    await page.screenshot({ path: screenshot("dashboard-eot-join.png"), fullPage: true });

    await rm(holdFile);
    // Released, the held epoch commits and leaves the join.
    await page.locator(`.epoch[data-vertex="out"][data-epoch="${heldEpoch}"]`).waitFor({ state: "detached" });
    expect(foreignRequests(requests, new URL(url).origin)).toEqual([]);
    expect(requests.length).toBeGreaterThan(3);
    await page.close();
  });

  it("weir run --ui: a reduce vertex's watermark per partition, the writer holding it back, and its open windows", { timeout: 180_000 }, async () => {
    const spec = path.join(dir, "reduce-run.yaml");
    await writeFile(
      spec,
      [
        "apiVersion: weir.dev/v1",
        "kind: Pipeline",
        "metadata: { name: windowed }",
        "spec:",
        "  buffer: { type: memory }",
        "  watermark: { maxDelay: 0s }",
        "  limits: { readBatchSize: 50, readTimeout: 20ms }",
        "  vertices:",
        "    - { name: in, partitions: 2, source: { generator: { total: 100000000, rpu: 20, duration: 100ms, keyCount: 3 } } }",
        "    - { name: counts, partitions: 2, udf: { builtin: { name: count }, groupBy: { window: { fixed: { length: 60m } }, keyed: true } } }",
        "    - { name: out, sink: { log: {} } }",
        "  edges:",
        "    - { from: in, to: counts }",
        "    - { from: counts, to: out }",
        "",
      ].join("\n"),
    );
    const weir = start(["run", spec, "--ui=0", "--json"]);
    const url = await urlOf(weir);
    const { page, requests } = await openPage(browser, url);
    const row = page.locator('#watermarks tr.watermark[data-vertex="counts"][data-partition="1"]');
    await row.locator("td.wm").filter({ hasText: /^\d{4}-\d\d-\d\d / }).waitFor({ timeout: 60_000 });
    await row.locator("td.held-by").filter({ hasText: /^in\/[01] @ [^:]+: \d\d:\d\d/ }).waitFor({ timeout: 60_000 });
    await row.locator("td.open-windows").filter({ hasText: /^[1-3]$/ }).waitFor({ timeout: 60_000 });
    expect(foreignRequests(requests, new URL(url).origin)).toEqual([]);
    await page.close();
  });

  it("off loopback, the page asks for the token before it shows anything", async () => {
    const graph = pipelineGraph(parseSpec({ apiVersion: "weir.dev/v1", kind: "Pipeline", metadata: { name: "guarded" }, spec: { vertices: [{ name: "in", source: { generator: { total: 1 } } }, { name: "out", sink: { log: {} } }], edges: [{ from: "in", to: "out" }] } }, dir).spec);
    const snapshot = buildSnapshot({ pipeline: "guarded", mode: "run", sampleIntervalMs: 500, graph, own: null, workers: [], deadLetters: noDeadLetters, now: Date.now() });
    const token = "a-token-of-enough-length";
    const server = await startDashboardServer({ port: 0, host: "0.0.0.0", token, source: { snapshot: () => snapshot, onUpdate: () => () => undefined } });
    try {
      const url = `http://127.0.0.1:${server.port}/`;
      const { page, requests } = await openPage(browser, url);
      await page.locator("#token-form").waitFor();
      expect(await page.locator("svg#graph g.vertex").count()).toBe(0);
      await page.fill("#token-input", "wrong-token-wrong-token");
      await page.click('#token-form button[type="submit"]');
      await page.locator("#token-error").filter({ hasText: "refused" }).waitFor();
      await page.fill("#token-input", token);
      await page.click('#token-form button[type="submit"]');
      await page.waitForSelector('svg#graph g.vertex[data-vertex="out"]');
      await page.locator("#token-form").waitFor({ state: "hidden" });
      expect(foreignRequests(requests, new URL(url).origin)).toEqual([]);
      await page.close();
    } finally {
      await server.close();
    }
  });

  describe("weir ui on Redis", () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("shows a SIGKILLed worker dead, its pending entries, and the worker that claimed them", { timeout: 180_000 }, async () => {
      const spec = path.join(dir, "workers.yaml");
      await writeFile(
        spec,
        [
          "apiVersion: weir.dev/v1",
          "kind: Pipeline",
          "metadata: { name: fleet }",
          "spec:",
          `  buffer: { type: redis, url: "${redis.url}", claimIdle: 1s }`,
          "  limits: { readBatchSize: 20, readTimeout: 20ms, resultTimeout: 10m }",
          "  vertices:",
          "    - { name: in, source: { generator: { total: 200, rpu: 1000, duration: 1s } } }",
          `    - { name: out, partitions: 2, sink: { module: { path: "${fixture("hanging-sink.mjs")}" } } }`,
          "  edges:",
          "    - { from: in, to: out }",
          "",
        ].join("\n"),
      );
      const ui = start(["ui", spec, "--port", "0"]);
      const url = await urlOf(ui);
      const { page, requests } = await openPage(browser, url);

      const victim = start(["run", spec, "--vertices", "out", "--replica", "a", "--allow-modules-outside"], { WEIR_TEST_HANG: "1" });
      start(["run", spec, "--vertices", "in", "--replica", "src", "--allow-modules-outside"]);
      const row = page.locator('tr.worker[data-worker="fleet-a"]');
      await row.filter({ hasText: "alive" }).waitFor({ timeout: 60_000 });
      await row.locator("td.pending").filter({ hasText: /\d+ pending on out\/\d/ }).waitFor({ timeout: 60_000 });

      victim.child.kill("SIGKILL");
      await page.locator('tr.worker.dead[data-worker="fleet-a"]').waitFor({ timeout: 60_000 });
      await row.locator("td.pending").filter({ hasText: /pending on out\// }).waitFor();
      await page.screenshot({ path: screenshot("dashboard-dead-worker.png"), fullPage: true });

      start(["run", spec, "--vertices", "out", "--replica", "b", "--allow-modules-outside"]);
      await row.locator("td.claims").filter({ hasText: /claimed by fleet-b: \d+ on out\/\d/ }).waitFor({ timeout: 60_000 });
      await row.locator("td.pending").filter({ hasText: "none" }).waitFor({ timeout: 60_000 });
      // The claimer's record outlives it (stopped, once its bounded run is done), so the claim stays visible.
      await page.locator('tr.worker[data-worker="fleet-b"]').waitFor();
      await page.screenshot({ path: screenshot("dashboard-claimed.png"), fullPage: true });

      expect(foreignRequests(requests, new URL(url).origin)).toEqual([]);
      await page.close();
    });

    it("shows a reduce vertex's watermark per partition, what holds it back, and its open windows, read from Redis", { timeout: 180_000 }, async () => {
      const spec = path.join(dir, "reduce.yaml");
      await writeFile(
        spec,
        [
          "apiVersion: weir.dev/v1",
          "kind: Pipeline",
          "metadata: { name: windows }",
          "spec:",
          `  buffer: { type: redis, url: "${redis.url}" }`,
          "  watermark: { maxDelay: 0s }",
          "  limits: { readBatchSize: 50, readTimeout: 20ms }",
          "  vertices:",
          "    - { name: in, partitions: 2, source: { generator: { total: 100000000, rpu: 20, duration: 100ms, keyCount: 3 } } }",
          "    - { name: counts, partitions: 2, udf: { builtin: { name: count }, groupBy: { window: { fixed: { length: 60m } }, keyed: true } } }",
          "    - { name: out, sink: { log: {} } }",
          "  edges:",
          "    - { from: in, to: counts }",
          "    - { from: counts, to: out }",
          "",
        ].join("\n"),
      );
      const ui = start(["ui", spec, "--port", "0"]);
      const url = await urlOf(ui);
      const { page, requests } = await openPage(browser, url);
      start(["run", spec, "--replica", "r1"]);
      for (const partition of ["0", "1"]) {
        const row = page.locator(`#watermarks tr.watermark[data-vertex="counts"][data-partition="${partition}"]`);
        await row.locator("td.wm").filter({ hasText: /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/ }).waitFor({ timeout: 60_000 });
        await row.locator("td.held-by").filter({ hasText: /^in\/[01] @ windows-r1: \d\d:\d\d:\d\d\.\d{3} since / }).waitFor({ timeout: 60_000 });
        await row.locator("td.open-windows").filter({ hasText: /^[1-3]: \[key-\d\] / }).waitFor({ timeout: 60_000 });
      }
      await page.locator('#watermarks tr.watermark[data-vertex="counts"] td.lag').filter({ hasText: /\d/ }).first().waitFor();
      await page.locator("#watermarks-section").screenshot({ path: screenshot("dashboard-watermarks.png") });
      expect(foreignRequests(requests, new URL(url).origin)).toEqual([]);
      await page.close();
    });
  });
});
