import { test } from "uvu";
import * as assert from "uvu/assert";
import { expandGrid, parseGridEntry, presetConfig, presets, threatConfigs, threatOf } from "../../src/eval/config.js";
import { describeThief } from "../../src/thieves/registry.js";
import { hashBytes, stableStringify } from "../../src/eval/hash.js";

test("expandGrid sweeps the cartesian product per defense, in order, and a defense without a grid once", () => {
  const settings = expandGrid(["none", "mad", "reverse-sigmoid"], { mad: { epsilon: [0.1, 0.5] }, "reverse-sigmoid": { beta: [0.2, 1], gamma: [0.1, 0.2] } });
  assert.equal(settings.map((s) => [s.defense, s.params, s.order]), [
    ["none", {}, 0],
    ["mad", { epsilon: 0.1 }, 0],
    ["mad", { epsilon: 0.5 }, 1],
    ["reverse-sigmoid", { beta: 0.2, gamma: 0.1 }, 0],
    ["reverse-sigmoid", { beta: 0.2, gamma: 0.2 }, 1],
    ["reverse-sigmoid", { beta: 1, gamma: 0.1 }, 2],
    ["reverse-sigmoid", { beta: 1, gamma: 0.2 }, 3],
  ]);
  assert.throws(() => expandGrid(["mad"], { mad: { epsilon: [] } }), /no values/);
});

test("parseGridEntry reads DEFENSE:PARAM=V1,V2 and rejects malformed entries", () => {
  assert.equal(parseGridEntry("mad:epsilon=0.1,0.5,1:step=linesearch"), { defense: "mad", params: { epsilon: ["0.1", "0.5", "1"], step: ["linesearch"] } });
  assert.throws(() => parseGridEntry("mad:epsilon"), /not PARAM=V1,V2/);
  assert.throws(() => parseGridEntry("mad:=1"), /not PARAM=V1,V2/);
});

test("the quick preset: MNIST, naive and defense-aware thieves (top1 and recover among them), none + 4 defenses x 3 settings", () => {
  const quick = presetConfig("quick");
  assert.is(quick.dataset, "mnist");
  assert.equal([...quick.attacks].sort(), ["invert", "jbtop3", "knockoff", "recover", "top1"]);
  const count = (d: string) => quick.settings.filter((s) => s.defense === d).length;
  assert.is(count("none"), 1);
  for (const d of ["mad", "mad-argmax", "reverse-sigmoid", "random-noise"]) assert.is(count(d), 3, d);
  assert.is(quick.settings.length, 13);
  const paper = presetConfig("paper");
  assert.equal([...paper.attacks].sort(), ["jbda", "jbself", "jbtop3", "knockoff", "top1"]);
  assert.ok(paper.budget > quick.budget);
  assert.throws(() => presetConfig("nope"), /unknown preset "nope"/);
  assert.ok(Object.keys(presets).includes("paper"));
});

test("the protection preset: every thief (naive and defense-aware) against 9 defenses x 3 settings (+ 2 keyed), in both threat settings", () => {
  const protection = presetConfig("protection");
  assert.equal([...protection.attacks].sort(), ["invert", "jblabels", "jbtop3", "knockoff", "recover", "smooth", "top1"]);
  const defenses = [...new Set(protection.settings.map((s) => s.defense))];
  assert.equal(defenses, ["none", "mad", "mad-argmax", "reverse-sigmoid", "random-noise", "modelguard-w", "grad2", "adaptive-misinformation", "modelguard-s"]);
  for (const d of defenses.slice(1)) assert.is(protection.settings.filter((s) => s.defense === d).length, d === "mad-argmax" ? 5 : 3, d);
  // The keyed settings come after the unkeyed sweep and say so in their parameters.
  const keyed = protection.settings.filter((s) => s.params.keyMix !== undefined);
  assert.equal(keyed.map((s) => [s.defense, s.params.epsilon, s.order]), [["mad-argmax", 1, 3], ["mad-argmax", 2, 4]]);
  // The watermark evaluation: DAWN's rate, verify's defaults, clean copies as controls.
  assert.equal({ ...presets.protection.watermark!, attacks: undefined, fitted: undefined }, { rate: 0.01, softRate: 0.5, softMass: 0.25, maxQueries: 200, alpha: 1e-6, controlAlpha: 1e-3, cleanCopies: 10, attacks: undefined, fitted: undefined });
  const runs = threatConfigs(protection, presets.protection.threats);
  assert.equal(runs.map((r) => [r.threat, r.transfer]), [["in-distribution", "heldout"], ["out-of-distribution", "fashion-mnist"]]);
  // Out of distribution the thief has no digits at all: only pool thieves, each with top1 among them.
  assert.ok(runs[1].attacks.every((a) => describeThief(a).data === "pool"));
  assert.ok(runs.every((r) => r.attacks.includes("top1") && r.attacks.includes("recover") && r.attacks.includes("invert")));
  assert.equal(threatConfigs(protection, undefined), [protection]);
  assert.is(threatOf({}, "mnist-heldout"), "in-distribution");
  assert.is(threatOf({}, "fashion-mnist"), "out-of-distribution");
  assert.is(threatOf({ threat: "mine" }, "fashion-mnist"), "mine");
  // Every thief of every preset is registered, so a preset never fails after training the victim.
  for (const name of Object.keys(presets)) for (const a of presetConfig(name).attacks) describeThief(a);
});

test("stableStringify ignores key order; hashBytes is deterministic and content-sensitive", () => {
  assert.is(stableStringify({ b: 1, a: [1, { d: 2, c: 3 }] }), stableStringify({ a: [1, { c: 3, d: 2 }], b: 1 }));
  assert.is(stableStringify({ a: undefined, b: 1 }), '{"b":1}');
  const x = new Float32Array([0.1, 0.2, 0.3]);
  assert.is(hashBytes(x), hashBytes(new Float32Array([0.1, 0.2, 0.3])));
  assert.is.not(hashBytes(x), hashBytes(new Float32Array([0.1, 0.2, 0.30001])));
  assert.is(hashBytes(x).length, 16);
  assert.is(hashBytes(x.subarray(1)), hashBytes(new Float32Array([0.2, 0.3])));
});

test.run();
