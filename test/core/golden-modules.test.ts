// Golden files per AssemblyScript module (test/fixtures/core-golden/<module>.jsonl, written by
// test/core/generate-golden-modules.ts from a build of the core): every case is replayed and its output
// must match bit for bit, f32 and f64 alike. No tolerance anywhere: the core is single-threaded and
// every computation has a fixed order, so a changed bit means the arithmetic changed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadCore, type PerturbOptions } from "../../src/core/index.js";
import { DISTANCES, JACOBIANS, OBJECTIVES, ORACLES, STEPS } from "../../src/core/exports.js";
import { compareOutputs, runCase, type GoldenCase } from "./golden-modules.js";

const dir = fileURLToPath(new URL("../fixtures/core-golden/", import.meta.url));
const MODULES = [
  "simplex", "balls", "distances", "steps", "objectives", "oracles",
  "argmax-exact", "argmax-sorted", "argmax-greedy", "modelguard", "batch", "sweep",
];
const read = (module: string): GoldenCase[] =>
  readFileSync(`${dir}${module}.jsonl`, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as GoldenCase);
const fixtures = new Map(MODULES.map((module) => [module, read(module)]));
const core = await loadCore();

test("one golden file per module, nothing else in the folder", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".jsonl")).map((f) => f.replace(/\.jsonl$/, "")).sort();
  assert.equal(files, [...MODULES].sort());
});

test("the cases cover every option code, Jacobian kind and I/O type", () => {
  const perturb = [...fixtures.values()].flat().filter((c) => c.call === "perturb" || c.call === "sweep");
  const seen = (pick: (c: GoldenCase) => unknown) => new Set(perturb.map(pick));
  const options = (c: GoldenCase) => c.options as PerturbOptions;
  for (const name of ORACLES) assert.ok(seen((c) => options(c).oracle).has(name), `oracle ${name}`);
  for (const name of OBJECTIVES) assert.ok(seen((c) => options(c).objective).has(name), `objective ${name}`);
  for (const name of DISTANCES) assert.ok(seen((c) => options(c).distance).has(name), `distance ${name}`);
  for (const name of STEPS) assert.ok(seen((c) => options(c).step ?? "linesearch").has(name), `step ${name}`);
  for (const name of JACOBIANS) assert.ok(seen((c) => c.jacobian?.kind ?? "identity").has(name), `jacobian ${name}`);
  for (const limit of [1, 20, 24]) assert.ok(seen((c) => options(c).exactArgmaxLimit ?? 20).has(limit), `exactArgmaxLimit ${limit}`);
  assert.ok(seen((c) => options(c).argmaxRefine ?? false).has(true), "argmaxRefine");
  assert.ok(seen((c) => c.float).has("f32") && seen((c) => c.float).has("f64"), "f32 and f64");
  const argmaxK = seen((c) => (options(c).oracle === "argmax" ? c.K : undefined));
  for (const K of [2, 3, 19, 20, 21, 22, 100, 1000]) assert.ok(argmaxK.has(K), `argmax K=${K}`);
  assert.ok(perturb.some((c) => options(c).epsilon === 0), "epsilon 0");
});

for (const module of MODULES)
  test(`${module}: every case bit-identical to its golden output`, () => {
    const cases = fixtures.get(module)!;
    assert.ok(cases.length > 0, "no cases");
    const failures: string[] = [];
    for (const c of cases) {
      const difference = compareOutputs(c.expected, runCase(core, c), c.call === "perturb" || c.call === "sweep" || c.call === "modelguard" ? c.float : "f64");
      if (difference) failures.push(`${c.name}: ${difference}`);
    }
    assert.equal(failures, [], `${failures.length} of ${cases.length} cases changed`);
  });

test.run();
