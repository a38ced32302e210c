// The registry: every defense by name, declared parameters with defaults, and errors that name the problem.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore } from "../../src/core/index.js";
import { createDefense, DefenseConfigError, describeDefense, listDefenses, parseParameterStrings } from "../../src/defenses/index.js";

const core = await loadCore();
const NAMES = [
  "none", "topk", "rounding", "labels", "high-confidence", "reverse-sigmoid", "random-noise", "mad", "mad-argmax", "modelguard-w",
  "modelguard-s", "grad2", "adaptive-misinformation",
];
// Adaptive Misinformation cannot be built without its misinformation model (any probs(batch) fits here).
const misinformation = { probs: async () => new Float32Array(0) };
// GRAD² cannot be built without a surrogate proxy (any directionalLogProbDerivative fits here; MAD ignores it).
const proxy = {
  probs: async () => new Float32Array(0),
  jacobian: async () => ({ kind: "identity" as const }),
  directionalLogProbDerivative: async () => new Float32Array(0),
};

const fails = (fn: () => unknown, pattern: RegExp, parameter?: string) => {
  try {
    fn();
  } catch (e) {
    assert.instance(e, DefenseConfigError);
    assert.match((e as Error).message, pattern);
    if (parameter !== undefined) assert.is((e as DefenseConfigError).parameter, parameter);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
};

test("lists every defense with described parameters whose defaults validate", () => {
  const infos = listDefenses();
  assert.equal(infos.map((d) => d.name), NAMES);
  for (const info of infos) {
    assert.ok(info.description.length > 20, info.name);
    for (const p of info.parameters) {
      assert.ok(p.description.length > 5, `${info.name}.${p.name}`);
      if (p.type === "choice") assert.ok(p.choices && p.choices.includes(p.default as string), `${info.name}.${p.name}`);
      assert.ok(p.default !== undefined || p.optional, `${info.name}.${p.name} has neither default nor optional`);
    }
    const d = createDefense(info.name, {}, { core, misinformation, proxy });
    assert.is(d.name, info.name);
    for (const p of info.parameters) if (p.default !== undefined) assert.equal(d.params[p.name], p.default, `${info.name}.${p.name}`);
    assert.equal(JSON.parse(JSON.stringify(d.params)), d.params);
  }
  assert.is(describeDefense("topk").parameters[0].name, "k");
});

test("the MAD-argmax preset fixes oracle, objective and distance", () => {
  const names = describeDefense("mad-argmax").parameters.map((p) => p.name);
  assert.not.ok(names.includes("oracle") || names.includes("distance") || names.includes("objective"));
  assert.ok(createDefense("mad-argmax", { epsilon: 0.5 }, { core }).traits.keepsTop1);
  assert.not.ok(createDefense("mad", { epsilon: 0.5 }, { core }).traits.keepsTop1);
  assert.ok(createDefense("mad", { oracle: "argmax" }, { core }).traits.keepsTop1);
});

test("errors name the defense and the parameter", () => {
  fails(() => createDefense("madd"), /unknown defense.*known: none, topk/);
  fails(() => createDefense("topk", { k: 0 }), /defense "topk": parameter "k": must be an integer >= 1, got 0/, "k");
  fails(() => createDefense("topk", { k: 1.5 }), /parameter "k": must be an integer/, "k");
  fails(() => createDefense("topk", { k: "3" }), /parameter "k": must be an integer/, "k");
  fails(() => createDefense("topk", { renormalize: "yes" }), /parameter "renormalize": must be true or false/, "renormalize");
  fails(() => createDefense("topk", { kk: 2 }), /parameter "kk": unknown parameter \(known: k, renormalize\)/, "kk");
  fails(() => createDefense("reverse-sigmoid", { beta: -1 }), /parameter "beta": must be a number >= 0/, "beta");
  fails(() => createDefense("reverse-sigmoid", { gamma: 0 }), /parameter "gamma": must be a number > 0/, "gamma");
  fails(() => createDefense("rounding", { decimals: 20 }), /parameter "decimals".*<= 8/, "decimals");
  fails(() => createDefense("random-noise", { mode: "gauss" }, { core }), /parameter "mode": must be one of "logit-uniform", "logit-gaussian", "prob-gaussian"/, "mode");
  fails(() => createDefense("random-noise", { seed: -1 }, { core }), /parameter "seed"/, "seed");
  fails(() => createDefense("mad", { epsilon: NaN }, { core }), /parameter "epsilon"/, "epsilon");
  fails(() => createDefense("modelguard-w", { epsilon: 2.5 }, { core }), /parameter "epsilon".*<= 2/, "epsilon");
  fails(() => createDefense("topk", [1] as unknown as Record<string, unknown>), /parameters must be an object/);
});

test("a combination the core rejects is reported against the parameter", () => {
  fails(() => createDefense("mad", { distance: "kl", step: "projections" }, { core }), /parameter "step"/, "step");
});

test("defenses on the core say so when it is missing; jacobian layers needs a proxy", () => {
  for (const name of ["mad", "mad-argmax", "modelguard-w", "random-noise"]) {
    assert.ok(describeDefense(name).needsCore, name);
    fails(() => createDefense(name), /needs the WASM core/);
  }
  for (const name of ["none", "topk", "rounding", "labels", "high-confidence", "reverse-sigmoid"]) {
    assert.not.ok(describeDefense(name).needsCore, name);
    createDefense(name);
  }
  fails(() => createDefense("mad", { jacobian: "layers" }, { core }), /parameter "jacobian": "layers" needs a proxy/, "jacobian");
});

test("parameter strings (CLI flags, query strings) are coerced by declared type", () => {
  assert.equal(parseParameterStrings("topk", { k: "3", renormalize: "true" }), { k: 3, renormalize: true });
  assert.equal(parseParameterStrings("mad", { epsilon: "0.5", oracle: "argmax", layers: "dense1, dense2", seed: undefined }), {
    epsilon: 0.5,
    oracle: "argmax",
    layers: ["dense1", "dense2"],
  });
  fails(() => parseParameterStrings("topk", { k: "three" }), /parameter "k": must be a number, got "three"/, "k");
  fails(() => parseParameterStrings("topk", { renormalize: "1" }), /parameter "renormalize": must be true or false/);
  fails(() => parseParameterStrings("labels", { k: "1" }), /unknown parameter \(known: none\)/, "k");
  const d = createDefense("topk", parseParameterStrings("topk", { k: "2" }));
  assert.is(d.params.k, 2);
});

test.run();
