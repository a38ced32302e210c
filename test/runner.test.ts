// test/run.mjs counts honestly: skipped tests are skipped (not passed), a failing hook fails its suite's tests,
// a file that crashes or exits without uvu's summary is failed (its known tests, at least 1), nothing is
// negative, and any failure makes it exit non-zero. First its counting (test/run-count.mjs) on outputs
// written by hand, then the runner itself on fixture test files made in a temporary directory (not under
// test/, so the real run never collects them).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { addCounts, countFile as count, skipReasons, summaryLine } from "./run-count.mjs";

const summary = (total: number, passed: number, skipped: number) => `\n  Total:     ${total}\n  Passed:    ${passed}\n  Skipped:   ${skipped}\n  Duration:  1.00ms\n\n`;

test("uvu's summary: failures are Total - Passed, skipped ones are their own count", () => {
  assert.equal(count(`• • • •   (4 / 4)\n${summary(4, 4, 0)}`, 0), { passed: 4, failed: 0, skipped: 0, summarised: true });
  assert.equal(count(`• ✘ •   (2 / 3)\n${summary(3, 2, 2)}`, 1), { passed: 2, failed: 1, skipped: 2, summarised: true });
  // colour codes do not matter
  assert.equal(count(`\x1b[90m• \x1b[39m\n  Total:     1\x1b[32m\n  Passed:    1\x1b[39m\n  Skipped:   \x1b[33m3\x1b[39m\n`, 0), { passed: 1, failed: 0, skipped: 3, summarised: true });
});

test("a summary, then a non-zero exit or a signal: one failure more", () => {
  assert.equal(count(summary(2, 2, 0), 1), { passed: 2, failed: 1, skipped: 0, summarised: true });
  assert.equal(count(summary(2, 2, 0), null), { passed: 2, failed: 1, skipped: 0, summarised: true });
  assert.equal(count(summary(2, 1, 0), 1).failed, 1, "a failure already counted is not counted twice");
});

test("the last summary counts, and nothing is negative", () => {
  const printedByATest = "  Total:     99\n  Passed:    99\n  Skipped:   0\n";
  assert.equal(count(printedByATest + "✘   (0 / 1)\n" + summary(1, 0, 0), 1), { passed: 0, failed: 1, skipped: 0, summarised: true });
  assert.equal(count(summary(1, 5, 0), 0), { passed: 1, failed: 0, skipped: 0, summarised: true });
});

test("no summary: every known test failed, at least 1", () => {
  assert.equal(count("Error: Cannot find module './x.js'\n", 1), { passed: 0, failed: 1, skipped: 0, summarised: false });
  assert.equal(count("", 0), { passed: 0, failed: 1, skipped: 0, summarised: false }, "even with exit code 0");
  // two suites finished (5 tests), a third was cut short after two marks
  assert.equal(count(" a • • •   (3 / 3)\n b • ✘   (1 / 2)\n c • • ", null), { passed: 0, failed: 7, skipped: 0, summarised: false });
});

test("sums, the closing line and the skip reasons", () => {
  const total = addCounts([
    { passed: 3, failed: 0, skipped: 2 },
    { passed: 1, failed: 2, skipped: 0 },
  ]);
  assert.equal(total, { passed: 4, failed: 2, skipped: 2 });
  assert.is(summaryLine(total), "4 passed, 2 failed, 2 skipped");
  assert.is(summaryLine({ passed: 5, failed: 0, skipped: 0 }), "5 passed, 0 failed");
  assert.equal(skipReasons("SKIP: redis-server not installed\nx\nSKIP: redis-server not installed\nSKIP: chromium gone\n"), ["redis-server not installed", "chromium gone"]);
});

test("run.mjs on fixture files: passes, skips, a failure, a failing hook, a crash and an early exit", () => {
  const dir = mkdtempSync(join(tmpdir(), "pp-runner-"));
  try {
    const uvu = JSON.stringify(pathToFileURL(resolve("node_modules/uvu/dist/index.mjs")).href);
    const tools = JSON.stringify(pathToFileURL(resolve("test/tools.ts")).href);
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    const fixtures: Record<string, string> = {
      "pass.test.ts": `import { test } from ${uvu};\ntest("one", () => {});\ntest("two", () => {});\ntest.run();\n`,
      "skip.test.ts":
        `import { test } from ${uvu};\nimport { needs } from ${tools};\nconst run = needs("redis-server", test);\n` +
        `test("plain", () => {});\nrun("needs redis a", () => {});\nrun("needs redis b", () => {});\ntest.run();\n`,
      "fail.test.ts": `import { test } from ${uvu};\ntest("ok", () => {});\ntest("bad", () => { throw new Error("nope"); });\ntest.run();\n`,
      "hook.test.ts": `import { test } from ${uvu};\ntest.before(() => { throw new Error("setup failed"); });\ntest("a", () => {});\ntest("b", () => {});\ntest.run();\n`,
      "crash.test.ts": `import { test } from ${uvu};\nthrow new Error("broken at import");\ntest("never", () => {});\ntest.run();\n`,
      "exit.test.ts":
        `import { suite } from ${uvu};\nconst a = suite("a");\na("one", () => {});\na("two", () => {});\na.run();\n` +
        `const b = suite("b");\nb("three", () => { process.exit(3); });\nb.run();\n`,
    };
    for (const [name, text] of Object.entries(fixtures)) writeFileSync(join(dir, name), text);
    const runner = (filter?: string) => {
      const r = spawnSync(process.execPath, ["test/run.mjs", ...(filter ? [filter] : [])], {
        encoding: "utf8",
        env: { ...process.env, PP_TEST_ROOT: dir, PP_TEST_NO_REDIS: "1", PP_TEST_REQUIRE_TOOLS: "" },
        timeout: 120_000,
      });
      return { code: r.status, lines: r.stdout.trim().split("\n"), out: r.stdout + r.stderr };
    };

    const all = runner();
    assert.is(all.lines.at(-1), "4 passed, 6 failed, 2 skipped", all.out);
    assert.is(all.code, 1);
    const line = (file: string) => all.lines.find((l) => l.includes(`${file}.test.ts:`)) ?? "";
    assert.match(line("pass"), /^ok .*: 2 passed, 0 failed \(/);
    assert.match(line("skip"), /^ok .*: 1 passed, 0 failed, 2 skipped \(/);
    assert.ok(all.lines.some((l) => /skipped: redis-server PP_TEST_NO_REDIS=1/.test(l)), "the reason is shown");
    assert.match(line("fail"), /^FAIL .*: 1 passed, 1 failed \(/);
    assert.match(line("hook"), /^FAIL .*: 0 passed, 2 failed \(/);
    assert.match(line("crash"), /^FAIL .*: 0 passed, 1 failed, no uvu summary \(exit 1\)/);
    assert.match(line("exit"), /^FAIL .*: 0 passed, 2 failed, no uvu summary \(exit 3\)/);

    const passing = runner("(pass|skip)");
    assert.is(passing.lines.at(-1), "3 passed, 0 failed, 2 skipped", passing.out);
    assert.is(passing.code, 0);
    const none = runner("pass");
    assert.is(none.lines.at(-1), "2 passed, 0 failed", "no skipped part when nothing was skipped");
    assert.is(none.code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
