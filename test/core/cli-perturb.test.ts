// `prediction-poisoning perturb` end to end: spawned as users run it, JSON lines in and out.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { PassThrough, Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { madTransform, perturbStream, LineError, type LineBatch } from "../../src/cli/perturb.js";
import { loadCore } from "../../src/core/index.js";
import { createRng, randomRows, row } from "./helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const core = await loadCore();

function runCli(args: string[], input: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", "perturb", ...args], { cwd: root });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ stdout, stderr, code }));
    child.stdin.on("error", () => {}); // the CLI may stop reading at a bad line
    child.stdin.end(input);
  });
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l).probs as number[]);

test("answers every line in order, with and without proxyProbs, ignoring other fields; equals the API", async () => {
  const rng = createRng(1);
  const K = 5;
  const B = 2600; // three WASM batches of up to 1024 lines, and switches between Jacobian kinds
  const probs = randomRows(rng, B, K);
  const proxy = randomRows(rng, B, K, 1);
  const withProxy = (r: number) => Math.floor(r / 700) % 2 === 0;
  let input = "";
  for (let r = 0; r < B; r++) {
    const record: Record<string, unknown> = { id: r, probs: row(probs, r, K) };
    if (withProxy(r)) record.proxyProbs = row(proxy, r, K);
    input += JSON.stringify(record) + "\n";
  }
  const { stdout, stderr, code } = await runCli(["--oracle", "argmax", "--objective", "angular", "--distance", "l2", "--epsilon", "0.3"], input);
  assert.is(code, 0, stderr);
  const out = lines(stdout);
  assert.is(out.length, B);
  const perturber = core.createPerturber({ oracle: "argmax", objective: "angular", distance: "l2", epsilon: 0.3 });
  for (let r = 0; r < B; r++) {
    const y = Float64Array.from(row(probs, r, K));
    const expected = withProxy(r) ? perturber.perturb(y, K, { kind: "probs", proxyProbs: Float64Array.from(row(proxy, r, K)) }) : perturber.perturb(y, K);
    assert.equal(out[r], Array.from(expected), `line ${r + 1}`);
  }
});

test("a bad line: earlier lines are written, stderr names the line and the problem, exit code 1", async () => {
  const good = '{"probs":[0.7,0.2,0.1]}';
  const cases: [string, RegExp][] = [
    ["{not json", /line 3: not valid JSON/],
    ['{"probs":[1]}', /line 3: "probs" needs at least 2 classes \(has 1\)/],
    ['{"probs":[0.5,0.6,0.2]}', /line 3: probs: sums to 1\.3/],
    ['{"probs":[0.5,0.5,0],"proxyProbs":[0.5,-0.5,1]}', /line 3: proxyProbs: entry 1 is negative/],
    ['{"probs":[0.5,null,0.5]}', /line 3: "probs"\[1\] is null, not a number/],
  ];
  const input = cases.map(([bad]) => [good, good, bad, good].join("\n") + "\n");
  const results = await Promise.all(input.map((text) => runCli(["--oracle", "extreme", "--distance", "l1", "--epsilon", "0.5"], text)));
  results.forEach(({ stdout, stderr, code }, i) => {
    assert.is(code, 1, `case ${i}: ${stderr}`);
    assert.match(stderr, cases[i][1]);
    assert.is(lines(stdout).length, 2, `case ${i}: the two lines before the bad one`);
  });
});

test("bad flags: exit code 2 and a message naming the flag", async () => {
  const [negative, kl] = await Promise.all([
    runCli(["--oracle", "extreme", "--distance", "l1", "--epsilon", "-1"], ""),
    runCli(["--oracle", "extreme", "--distance", "kl", "--epsilon", "0.1", "--step", "projections"], ""),
  ]);
  assert.is(negative.code, 2);
  assert.match(negative.stderr, /epsilon/);
  assert.is(kl.code, 2);
  assert.match(kl.stderr, /step/);
});

test("a reader that stops early (`| head`) ends the run quietly with exit code 0", async () => {
  const input = '{"probs":[0.7,0.2,0.1]}\n'.repeat(20000);
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", "perturb", "--oracle", "extreme", "--distance", "l1", "--epsilon", "0.5"], { cwd: root });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  child.stdin.on("error", () => {});
  child.stdin.end(input);
  await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.is(stderr, "");
  assert.is(code, 0);
});

test("seeded random oracle: the same seed gives the same stream; blank lines are skipped", async () => {
  const input = Array.from({ length: 50 }, () => '{"probs":[0.25,0.25,0.25,0.25]}').join("\n\n") + "\n";
  const args = ["--oracle", "random", "--distance", "l1", "--epsilon", "2.5", "--seed", "7"];
  const [a, b] = await Promise.all([runCli(args, input), runCli(args, input)]);
  assert.is(a.code, 0, a.stderr);
  assert.is(lines(a.stdout).length, 50);
  assert.is(a.stdout, b.stdout);
});

// Row groups of K = 3, 10, 3, 100 (the 10s half with proxyProbs), as JSON lines.
function mixedGroups(): string[][] {
  const rng = createRng(5);
  return ([[3, 40], [10, 25], [3, 30], [100, 20]] as const).map(([K, B]) => {
    const probs = randomRows(rng, B, K);
    const proxy = randomRows(rng, B, K, 1);
    return Array.from({ length: B }, (_, r) => JSON.stringify(K === 10 && r % 2 === 0 ? { probs: row(probs, r, K), proxyProbs: row(proxy, r, K) } : { probs: row(probs, r, K) }));
  });
}
const MAD = ["--oracle", "argmax", "--objective", "angular", "--distance", "l2", "--epsilon", "0.3"];

test("rows of different K in one stream (3, 10, 3, 100): the answers of each row group run on its own, in order", async () => {
  const groups = mixedGroups();
  const mixed = groups.map((g) => g.join("\n")).join("\n\n") + "\n"; // a blank line between groups is skipped
  const [all, ...alone] = await Promise.all([runCli(MAD, mixed), ...groups.map((g) => runCli(MAD, g.join("\n") + "\n"))]);
  assert.is(all.code, 0, all.stderr);
  for (const r of alone) assert.is(r.code, 0, r.stderr);
  const out = lines(all.stdout);
  assert.equal(out.map((p) => p.length), groups.flatMap((g, i) => g.map(() => [3, 10, 3, 100][i])));
  assert.equal(out, alone.flatMap((r) => lines(r.stdout)));
});

test("mixed K in process: a batch is a run of one K (and one Jacobian kind), cut at batchSize; a bad row after a change is named by its line", async () => {
  const mad = madTransform(core, { oracle: "argmax", objective: "angular", distance: "l2", epsilon: 0.3 });
  const seen: [K: number, rows: number][] = [];
  const recording = (batch: LineBatch) => {
    seen.push([batch.numClasses, batch.rows]);
    return mad(batch);
  };
  const run = async (text: string, batchSize: number) => {
    const output = new PassThrough();
    let out = "";
    output.on("data", (d) => (out += d));
    let error: unknown = null;
    try {
      await perturbStream(Readable.from([text]), output, recording, batchSize);
    } catch (e) {
      error = e;
    }
    return { out: lines(out), error };
  };
  const groups = mixedGroups();
  const mixed = await run(groups.flat().join("\n") + "\n", 16);
  assert.is(mixed.error, null);
  // 40 of K 3 in batches of 16; 25 of K 10 alternating with and without proxyProbs (one row each); 30 of K 3; 20 of K 100
  const tens = Array.from({ length: 25 }, () => [10, 1]);
  assert.equal(seen, [[3, 16], [3, 16], [3, 8], ...tens, [3, 16], [3, 14], [100, 16], [100, 4]]);
  const separately: number[][] = [];
  for (const g of groups) separately.push(...(await run(g.join("\n") + "\n", 16)).out);
  assert.equal(mixed.out, separately);

  // Line 40 + 25 + 3 = 68 is a K-3 row of the third group that sums to 1.3: the 67 lines before it are answered.
  const bad = groups.flat();
  bad[67] = '{"probs":[0.5,0.6,0.2]}';
  const failed = await run(bad.join("\n") + "\n", 16);
  assert.ok(failed.error instanceof LineError);
  assert.is((failed.error as LineError).line, 68);
  assert.match((failed.error as Error).message, /^line 68: probs: sums to 1\.3/);
  assert.equal(failed.out, separately.slice(0, 67));
});

test.run();
