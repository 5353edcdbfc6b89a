/**
 * `pnpm test:faults`: runs the fault scenarios (faults/*.faults.test.ts) and prints the figures
 * of every trial, then one line per scenario. Exits non-zero when a scenario failed, when a
 * message was lost (unless the trial expected and reported the loss: Redis without persistence),
 * or when a duplicate survived dedup where DESIGN §2.2 I6 promises exactly-once.
 *
 *   WEIR_FAULTS_SEED=<n>   replay a run's schedules (the seed is printed with the table)
 *   extra arguments        passed to vitest (e.g. a file filter)
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TrialFigures } from "./support/harness.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const results = path.join(tmpdir(), `weir-faults-${process.pid}.jsonl`);
rmSync(results, { force: true });
const started = Date.now();
const vitest = spawnSync(process.execPath, [path.join(root, "node_modules/vitest/vitest.mjs"), "run", "--config", "faults/vitest.config.ts", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, WEIR_FAULTS_RESULTS: results },
});
const rows: TrialFigures[] = existsSync(results)
  ? readFileSync(results, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as TrialFigures)
  : [];
rmSync(results, { force: true });

const columns = ["scenario", "trial", "seed", "in", "out", "lost", "dup before", "dup after", "protocol err", "max stall ms", "verdict"];
const problems: string[] = [];
const verdict = (row: TrialFigures): string => {
  const bad: string[] = [];
  if (row.lost > 0 && row.lossExpected !== true) bad.push("LOST");
  if (row.exactlyOnce && row.duplicatedAfterDedup > 0) bad.push("DUPLICATED");
  if (/HUNG|FAILED/.test(row.trial)) bad.push("FAILED");
  if (bad.length > 0) problems.push(`${row.scenario} ${row.trial}: ${bad.join(", ")}`);
  return bad.length > 0 ? bad.join(",") : row.lost > 0 ? "loss reported" : "ok";
};
const table = rows
  .sort((a, b) => a.scenario.localeCompare(b.scenario, "en", { numeric: true }))
  .map((row) => [row.scenario, row.trial, row.seed, row.messagesIn, row.messagesOut, row.lost, row.duplicatedBeforeDedup, row.duplicatedAfterDedup, row.protocolErrors, row.maxStallMs, verdict(row)].map(String));
const bySecenario = new Map<string, TrialFigures[]>();
for (const row of rows) bySecenario.set(row.scenario, [...(bySecenario.get(row.scenario) ?? []), row]);
const sum = (list: TrialFigures[], key: keyof TrialFigures) => list.reduce((total, row) => total + Number(row[key] ?? 0), 0);
const totals = [...bySecenario].map(([scenario, list]) => [
  scenario, `${list.length} trials`, "", sum(list, "messagesIn"), sum(list, "messagesOut"), sum(list, "lost"), sum(list, "duplicatedBeforeDedup"),
  sum(list, "duplicatedAfterDedup"), sum(list, "protocolErrors"), Math.max(...list.map((row) => row.maxStallMs)), "",
].map(String));
const print = (header: string[], body: string[][]) => {
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(" │ ");
  console.log(line(header));
  console.log(widths.map((width) => "─".repeat(width)).join("─┼─"));
  for (const row of body) console.log(line(row));
};
console.log(`\nWeir fault suite — ${rows.length} trials in ${((Date.now() - started) / 1000).toFixed(0)} s, seed ${process.env["WEIR_FAULTS_SEED"] ?? "20240611"}`);
print(columns, table);
console.log("\nPer scenario:");
print(columns, totals);
const notes = rows.filter((row) => row.note !== undefined && row.note !== "");
if (notes.length > 0) console.log(`\nNotes:\n${notes.map((row) => `  ${row.scenario} ${row.trial}: ${row.note!.slice(0, 600)}`).join("\n")}`);
if (vitest.status !== 0) problems.push(`vitest exited ${vitest.status ?? vitest.signal}: a scenario failed (see above)`);
if (problems.length > 0) {
  console.log(`\n✗ ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("\n✓ lost = 0 everywhere (or reported where the design accepts it), no duplicate after dedup where exactly-once is promised");
