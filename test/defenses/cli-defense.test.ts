// `prediction-poisoning perturb --defense <name>` end to end: spawned as users run it.
import { spawn } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore } from "../../src/core/index.js";
import { createDefense } from "../../src/defenses/index.js";

function runCli(args: string[], input: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", "perturb", ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(input);
  });
}

const rows = [
  [0.7, 0.2, 0.05, 0.05],
  [0.1, 0.3, 0.5, 0.1],
  [0.25, 0.25, 0.25, 0.25],
];
const input = rows.map((probs) => JSON.stringify({ probs, proxyProbs: [0.4, 0.3, 0.2, 0.1] })).join("\n") + "\n";
const parse = (stdout: string) => stdout.trim().split("\n").map((l) => JSON.parse(l).probs as number[]);

test("each defense's flags reach it: the CLI answers what the API answers", async () => {
  const core = await loadCore();
  const cases: [string[], string, Record<string, unknown>][] = [
    [["--defense", "topk", "--k", "2", "--renormalize"], "topk", { k: 2, renormalize: true }],
    [["--defense", "reverse-sigmoid", "--beta", "0.5", "--gamma", "0.4"], "reverse-sigmoid", { beta: 0.5, gamma: 0.4 }],
    [["--defense", "modelguard-w", "--epsilon", "0.6"], "modelguard-w", { epsilon: 0.6 }],
    [["--defense", "mad-argmax", "--epsilon", "0.8"], "mad-argmax", { epsilon: 0.8 }],
    [["--defense", "random-noise", "--mode", "logit-gaussian", "--seed", "4", "--norm", "l2"], "random-noise", { mode: "logit-gaussian", seed: 4, norm: "l2" }],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args, input)));
  for (let c = 0; c < cases.length; c++) {
    const [args, name, params] = cases[c];
    const { stdout, stderr, code } = results[c];
    assert.is(code, 0, `${args.join(" ")}: ${stderr}`);
    const probs = Float32Array.from(rows.flat());
    const expected = await createDefense(name, params, { core }).apply({
      probs,
      batchSize: rows.length,
      numClasses: 4,
      proxyProbs: Float32Array.from(rows.flatMap(() => [0.4, 0.3, 0.2, 0.1])),
    });
    assert.equal(parse(stdout).flat(), Array.from(expected.probs), args.join(" "));
  }
});

test("flags that do not apply, bad values and missing MAD flags: exit code 2 naming the flag", async () => {
  const [notApplicable, bad, missing] = await Promise.all([
    runCli(["--defense", "labels", "--beta", "1"], input),
    runCli(["--defense", "rounding", "--decimals", "-1"], input),
    runCli(["--epsilon", "0.5"], input),
  ]);
  assert.is(notApplicable.code, 2);
  assert.match(notApplicable.stderr, /--beta: does not apply to --defense labels/);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--decimals: must be an integer >= 0/);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /--oracle: is required \(MAD\) unless --defense is given/);
});

test("a bad line under --defense: earlier lines answered, the line named, exit code 1", async () => {
  const { stdout, stderr, code } = await runCli(["--defense", "labels"], '{"probs":[0.7,0.3]}\n{"probs":[0.2,0.9]}\n');
  assert.is(code, 1);
  assert.equal(parse(stdout), [[1, 0]]);
  assert.match(stderr, /line 2: probs: sums to/);
});

test("mixed K under --defense: a defense that takes any K answers each run of lines as on its own; one fixed to its first K (modelguard-s's codebook) names the line where K changed", async () => {
  const groups = [
    ['{"probs":[0.7,0.2,0.1]}', '{"probs":[0.1,0.6,0.3]}'],
    ['{"probs":[0.4,0.3,0.2,0.1]}'],
    ['{"probs":[0.2,0.2,0.6]}', '{"probs":[0.5,0.5,0]}'],
  ];
  const text = (g: string[][]) => g.flat().join("\n") + "\n";
  const args = ["--defense", "reverse-sigmoid", "--beta", "0.5", "--gamma", "0.4"];
  const [all, ...alone] = await Promise.all([runCli(args, text(groups)), ...groups.map((g) => runCli(args, text([g])))]);
  assert.is(all.code, 0, all.stderr);
  assert.equal(parse(all.stdout), alone.flatMap((r) => parse(r.stdout)));
  assert.equal(parse(all.stdout).map((p) => p.length), [3, 3, 4, 3, 3]);

  const fixed = await runCli(["--defense", "modelguard-s"], text(groups));
  assert.is(fixed.code, 1);
  assert.is(parse(fixed.stdout).length, 2, "the lines before the change are answered");
  assert.match(fixed.stderr, /line 3: "probs" has 4 entries where the lines before had 3 \(from line 1\), and the defense cannot take another number of classes: numClasses: is 4/);
  assert.not.match(fixed.stderr, /\n\s+at /, "a message, not a stack trace");
});

test.run();
