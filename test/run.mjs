// Runs every test file under test/ in its own uvu process (two at a time: one per core), then prints
// the one closing line CI reads: "N passed, N failed", and ", N skipped" when tests were skipped (a
// tool they need is missing: test/tools.ts). The counting is in test/run-count.mjs: a file that crashes
// or exits non-zero without uvu's summary counts as failed. Exits non-zero on any failure.
// Usage: node test/run.mjs [regex over the file paths]. PP_TEST_ROOT=dir collects *.test.ts from dir
// instead of test/ (test/runner.test.ts runs this script on fixtures that way).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { addCounts, countFile, skipReasons, stripAnsi, summaryLine } from "./run-count.mjs";

const root = process.env.PP_TEST_ROOT || "test";
const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const files = readdirSync(root, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith(".test.ts") && !f.includes("fixtures"))
  .map((f) => join(root, f))
  .filter((f) => !filter || filter.test(f))
  .sort();

const uvuBin = fileURLToPath(new URL("../node_modules/uvu/bin.js", import.meta.url));

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const pattern = `^${relative(root, file).replace(/[.]/g, "\\.")}$`;
    const child = spawn(process.execPath, ["--import", "tsx", uvuBin, root, pattern], {
      env: { ...process.env, FORCE_COLOR: "0" },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", (err) => (out += `\ncould not start: ${err.message}\n`));
    child.on("close", (code) => {
      const counts = countFile(out, code);
      resolve({ file, ...counts, code, reasons: skipReasons(out), text: stripAnsi(out), seconds: (Date.now() - started) / 1000 });
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
      const crashed = r.summarised ? "" : `, no uvu summary (exit ${r.code})`;
      console.log(`${status} ${file}: ${summaryLine(r)}${crashed} (${r.seconds.toFixed(1)} s)`);
      for (const reason of r.reasons) console.log(`     skipped: ${reason}`);
      if (r.failed) console.log(r.text.split("\n").map((l) => "    " + l).join("\n"));
    }
  }),
);
const total = addCounts(results);
if (files.length === 0) console.log("no test files found");
console.log(summaryLine(total));
process.exit(total.failed || files.length === 0 ? 1 : 0);
