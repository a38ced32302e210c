// What test/run.mjs counts for one test file, from its uvu process's output and exit code (test/runner.test.ts
// checks it). uvu ends a finished run with "Total: N / Passed: N / Skipped: N"; its Total counts the tests it ran,
// so skipped tests are outside it and never cancel a failure. A file without that summary crashed (an import
// failed, a hook threw outside uvu's reach, the process was killed): every test it is known to have had counts
// as failed, at least 1. Nothing is ever negative.

/** Output without ANSI colour codes. */
export const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");

/** The "SKIP: reason" lines a file printed (test/tools.ts prints one per missing tool), once each. */
export function skipReasons(text) {
  return [...new Set([...stripAnsi(text).matchAll(/^SKIP: (.+)$/gm)].map((m) => m[1].trim()))];
}

/**
 * Counts for one file: `output` is its stdout and stderr, `code` its exit code (null when killed by a signal).
 * Returns { passed, failed, skipped, summarised } where summarised says whether uvu printed its summary.
 */
export function countFile(output, code) {
  const text = stripAnsi(output);
  // The last summary block: a test's own output printed earlier cannot be mistaken for it.
  const summaries = [...text.matchAll(/^\s*Total:\s+(\d+)\s*\n\s*Passed:\s+(\d+)\s*\n\s*Skipped:\s+(\d+)/gm)];
  const last = summaries.at(-1);
  if (last) {
    const total = Number(last[1]);
    const passed = Math.min(Number(last[2]), total);
    const skipped = Number(last[3]);
    let failed = Math.max(0, total - passed);
    if (code !== 0 && failed === 0) failed = 1; // summarised, yet exited non-zero (or was killed) afterwards
    return { passed, failed, skipped, summarised: true };
  }
  // No summary. The tests known to exist: each finished suite's "(passed / total)" line, plus the
  // pass and fail marks of a suite cut short.
  const suites = [...text.matchAll(/\((\d+) \/ (\d+)\)\s*$/gm)];
  const known = suites.reduce((n, m) => n + Number(m[2]), 0);
  const tail = suites.length ? text.slice(suites.at(-1).index + suites.at(-1)[0].length) : text;
  const cutShort = (tail.match(/[•✘]/g) ?? []).length;
  return { passed: 0, failed: Math.max(1, known + cutShort), skipped: 0, summarised: false };
}

/** The sum of files' counts. */
export function addCounts(counts) {
  const sum = (key) => counts.reduce((a, c) => a + Math.max(0, c[key] ?? 0), 0);
  return { passed: sum("passed"), failed: sum("failed"), skipped: sum("skipped") };
}

/** The closing line CI reads: "N passed, N failed", then ", N skipped" when any were. */
export function summaryLine({ passed, failed, skipped }) {
  return `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`;
}
