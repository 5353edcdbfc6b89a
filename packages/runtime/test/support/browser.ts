/**
 * A real browser for the dashboard's end-to-end tests: Debian's chromium driven by
 * playwright-core (never a downloaded browser). Every request the page makes is recorded, so a
 * test can check that none left for another host.
 *
 * Without /usr/bin/chromium the tests skip with a warning — except in CI (`CI=true`), where
 * .ci/run installs it and a missing browser fails the run.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = process.env["WEIR_TEST_CHROMIUM"] ?? "/usr/bin/chromium";

export function hasChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env["CI"] === "true") throw new Error(`CI=true but ${CHROMIUM} is missing: apt-get install -y chromium`);
  console.warn(`\n⚠️  ${CHROMIUM} not found: the dashboard's browser tests are SKIPPED (apt-get install -y chromium).\n`);
  return false;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

export interface RecordedPage {
  readonly page: Page;
  /** Every URL the page requested, in order. */
  readonly requests: string[];
}

export async function openPage(browser: Browser, url: string): Promise<RecordedPage> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const requests: string[] = [];
  page.on("request", (request) => requests.push(request.url()));
  await page.goto(url);
  return { page, requests };
}

/** The requests that went anywhere but `origin` (data: URLs stay in the page). */
export function foreignRequests(requests: readonly string[], origin: string): string[] {
  return requests.filter((url) => !url.startsWith("data:") && new URL(url).origin !== origin);
}
