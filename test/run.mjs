// Runs every test file under test/ in its own uvu process (two at a time: one per core),
// then prints the one closing line CI reads: "N passed, N failed".
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { cpus } from "node:os";

const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const files = readdirSync("test", { recursive: true })
  .map(String)
  .filter((f) => f.endsWith(".test.ts") && !f.includes("fixtures"))
  .map((f) => join("test", f))
  .filter((f) => !filter || filter.test(f))
  .sort();

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
const uvuBin = "node_modules/uvu/bin.js";

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", uvuBin, "test", `^${relative("test", file).replace(/[.]/g, "\\.")}$`], {
      env: { ...process.env, FORCE_COLOR: "0" },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => {
      const text = strip(out);
      const num = (label) => {
        const m = text.match(new RegExp(`${label}:\\s+(\\d+)`));
        return m ? Number(m[1]) : null;
      };
      const total = num("Total");
      const passed = num("Passed");
      const skipped = num("Skipped") ?? 0;
      let failed;
      if (total === null || passed === null) failed = 1; // crashed before uvu could summarise
      // uvu's Total counts the tests it ran: skipped ones are outside it, so they never cancel a failure.
      else failed = Math.max(0, total - passed);
      if (code !== 0 && failed === 0) failed = 1;
      resolve({ file, passed: passed ?? 0, failed, skipped, text, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const concurrency = Math.max(1, Math.min(Number(process.env.TEST_CONCURRENCY) || cpus().length, 4));
const queue = [...files];
const results = [];
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (queue.length) {
      const file = queue.shift();
      const r = await runFile(file);
      results.push(r);
      const status = r.failed ? "FAIL" : "ok  ";
      console.log(`${status} ${file}: ${r.passed} passed, ${r.failed} failed (${r.seconds.toFixed(1)} s)`);
      if (r.failed) console.log(r.text.split("\n").map((l) => "    " + l).join("\n"));
    }
  }),
);
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
const skipped = results.reduce((a, r) => a + r.skipped, 0);
if (files.length === 0) console.log("no test files found");
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed || files.length === 0 ? 1 : 0);
