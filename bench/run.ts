// `npm run bench [suite...]`: runs bench/<suite>.ts suites, prints a table and merges the
// measurements into bench/results.json (by name, so one suite can be re-run alone).
import { readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const resultsPath = join(here, "results.json");
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
  .map((f) => f.slice(0, -3))
  .sort();
const requested = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = requested.filter((s) => !available.includes(s));
if (unknown.length) {
  console.error(`unknown bench suite(s): ${unknown.join(", ")}; available: ${available.join(", ")}`);
  process.exit(2);
}
const suites = requested.length ? requested : available;

const previous: BenchResult[] = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, "utf8")) : [];
const merged = new Map(previous.map((r) => [r.name, r]));
const fresh: BenchResult[] = [];
for (const suite of suites) {
  console.error(`bench suite ${suite} ...`);
  const mod = (await import(join(here, `${suite}.ts`))) as { run: () => Promise<BenchResult[]> };
  for (const r of await mod.run()) {
    fresh.push(r);
    merged.set(r.name, r);
  }
}
const width = Math.max(...fresh.map((r) => r.name.length), 4);
console.log(`${"name".padEnd(width)}  ${"value".padStart(14)}  unit`);
for (const r of fresh) {
  const v = Math.abs(r.value) >= 100 ? r.value.toFixed(0) : r.value.toPrecision(4);
  console.log(`${r.name.padEnd(width)}  ${v.padStart(14)}  ${r.unit}`);
}
writeFileSync(resultsPath, JSON.stringify([...merged.values()].sort((a, b) => a.name.localeCompare(b.name)), null, 2) + "\n");
console.log(`\nwrote ${fresh.length} measurements to bench/results.json`);
