import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { runSeeds } from "../../src/eval/seeds.js";
import { roleSeed } from "../../src/models/random.js";

// The roles the thieves split their seed into (src/thieves): queries, initialisation, shuffles, JB seed set, ...
const thiefRoles = ["queries", "init", "shuffles", "seed-set", "augment", "simulation", "shadow-init", "shadow-shuffles", "recovery-init", "recovery-shuffles"];

function allSeeds(run: number): Map<string, number> {
  const seeds = runSeeds(run);
  const out = new Map<string, number>([
    ["run", run],
    ["split", seeds.split],
    ["victim", seeds.victim],
    ["proxy", seeds.proxy],
    ["thief", seeds.thief],
  ]);
  for (const role of thiefRoles) out.set(`thief/${role}`, roleSeed(seeds.thief, role));
  for (let round = 0; round < 8; round++) {
    out.set(`thief/substitute-init/${round}`, roleSeed(seeds.thief, "substitute-init", round));
    out.set(`thief/substitute-shuffles/${round}`, roleSeed(seeds.thief, "substitute-shuffles", round));
  }
  return out;
}

test("every random role of a run gets its own seed, for any run seed (no thief starts from the victim's or the proxy's weights)", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (run) => {
      const seeds = allSeeds(run);
      const values = [...seeds.values()].filter((_, i) => i > 0); // the run seed itself may equal a derived one by chance only
      return new Set(values).size === values.length;
    }),
    { numRuns: 2000 },
  );
  // The two cases found in review: --seed 1 (the victim's old seed) and --seed 12345 (the proxy's old seed).
  for (const run of [0, 1, 12345]) {
    const s = allSeeds(run);
    assert.is.not(s.get("thief/init"), s.get("victim"));
    assert.is.not(s.get("thief/init"), s.get("proxy"));
    assert.is.not(s.get("victim"), s.get("proxy"));
  }
});

test("role seeds are deterministic, 32-bit, and change with the run seed, the role and the ids", () => {
  assert.is(roleSeed(7, "victim"), roleSeed(7, "victim"));
  assert.is.not(roleSeed(7, "victim"), roleSeed(8, "victim"));
  assert.is.not(roleSeed(7, "victim"), roleSeed(7, "proxy"));
  assert.is.not(roleSeed(7, "round", 1), roleSeed(7, "round", 2));
  assert.is.not(roleSeed(7, "a", 12), roleSeed(7, "a1", 2));
  for (const s of [roleSeed(0, "x"), roleSeed(0xffffffff, "y", 3)]) assert.ok(Number.isInteger(s) && s >= 0 && s <= 0xffffffff);
  assert.throws(() => roleSeed(-1, "x"), /run seed/);
  assert.throws(() => roleSeed(1.5, "x"), /run seed/);
  assert.throws(() => roleSeed(1, "x", -2), /seed id/);
});



test("a keyed defense in an evaluation gets the run's own key (64 hex digits, per run seed), never one from the grid's labels", async () => {
  const { withDeploymentKey } = await import("../../src/eval/setup.js");
  const a = runSeeds(0).defenseKey;
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.is.not(a, runSeeds(1).defenseKey);
  assert.equal(withDeploymentKey("mad-argmax", { epsilon: 1, keyMix: 0.5 }, a), { epsilon: 1, keyMix: 0.5, key: a });
  assert.equal(withDeploymentKey("mad-argmax", { key: "ab".repeat(16) }, a), { key: "ab".repeat(16) });
  // Defenses without a key parameter are left alone.
  assert.equal(withDeploymentKey("reverse-sigmoid", { beta: 0.5 }, a), { beta: 0.5 });
});
test.run();
