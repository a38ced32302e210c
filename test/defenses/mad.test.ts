// MAD behind the Defense interface: where the Jacobian comes from for each batch, and what a thief gains by
// averaging repeated queries (nothing against MAD, something against random noise).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore, type Jacobian } from "../../src/core/index.js";
import { createDefense, DefenseInputError, type DefenseProxy } from "../../src/defenses/index.js";
import type { InputBatch } from "../../src/models/types.js";
import { batchOf, l1, randomRows } from "./helpers.js";

const core = await loadCore();
const K = 10;
const B = 6;
const y = randomRows(B, K, 3);
const proxyProbs = randomRows(B, K, 4, 1);
const inputs: InputBatch = { data: new Float32Array(B * 4), batchSize: B, inputShape: [4] };

/** A proxy double that records its calls and answers with fixed probabilities or Gram matrices. */
function fakeProxy() {
  const calls: { mode: string; layers?: string[] }[] = [];
  const proxy: DefenseProxy = {
    async probs() {
      return proxyProbs;
    },
    async jacobian(batch, mode, layers): Promise<Jacobian> {
      calls.push({ mode, layers });
      assert.is(batch, inputs);
      if (mode === "layers") {
        // A symmetric positive semi-definite M per row: P P^T with P from the proxy rows.
        const gram = new Float64Array(B * K * K);
        for (let b = 0; b < B; b++)
          for (let i = 0; i < K; i++)
            for (let j = 0; j < K; j++) gram[b * K * K + i * K + j] = (i === j ? 1 : 0) + proxyProbs[b * K + i] * proxyProbs[b * K + j];
        return { kind: "gram", gram };
      }
      return mode === "identity" ? { kind: "identity" } : { kind: "probs", proxyProbs };
    },
  };
  return { proxy, calls };
}

const options = { oracle: "extreme", objective: "angular", distance: "l1", epsilon: 0.7 } as const;
const direct = (jacobian: Jacobian) => Array.from(core.createPerturber(options).perturb(y, K, jacobian));
const viaDefense = async (params: Record<string, unknown>, batchExtra: object, proxy?: DefenseProxy) =>
  Array.from((await createDefense("mad", { ...options, ...params }, { core, proxy }).apply(batchOf(y, K, batchExtra))).probs);

test("the batch's proxyProbs drive the last-layer Jacobian", async () => {
  assert.equal(await viaDefense({}, { proxyProbs }), direct({ kind: "probs", proxyProbs }));
  assert.not.equal(direct({ kind: "probs", proxyProbs }), direct({ kind: "identity" }), "the test needs the two to differ");
});

test("without proxyProbs a configured proxy runs on the inputs", async () => {
  const { proxy, calls } = fakeProxy();
  assert.equal(await viaDefense({}, { inputs }, proxy), direct({ kind: "probs", proxyProbs }));
  assert.equal(calls, [{ mode: "last-layer", layers: undefined }]);
});

test("proxyProbs in the batch spare the proxy its forward pass", async () => {
  const { proxy, calls } = fakeProxy();
  await viaDefense({}, { inputs, proxyProbs }, proxy);
  assert.is(calls.length, 0);
});

test("jacobian layers asks the proxy for Gram matrices over the given layers", async () => {
  const { proxy, calls } = fakeProxy();
  const gram = (await proxy.jacobian(inputs, "layers")) as Jacobian;
  calls.length = 0;
  assert.equal(await viaDefense({ jacobian: "layers", layers: ["dense1"] }, { inputs, proxyProbs }, proxy), direct(gram));
  assert.equal(calls, [{ mode: "layers", layers: ["dense1"] }]);
});

test("jacobian identity is G = I; last-layer without any proxy view is an error that names the ways out", async () => {
  assert.equal(await viaDefense({ jacobian: "identity" }, {}), direct({ kind: "identity" }));
  assert.equal(await viaDefense({ jacobian: "identity" }, { proxyProbs }), direct({ kind: "identity" }));
  for (const name of ["mad", "mad-argmax"]) {
    try {
      await createDefense(name, { epsilon: 0.5 }, { core }).apply(batchOf(y, K));
      assert.unreachable(`${name} fell back to G = I`);
    } catch (e) {
      assert.instance(e, DefenseInputError);
      assert.match(String(e), /deps\.proxy/);
      assert.match(String(e), /proxyProbs/);
      assert.match(String(e), /jacobian "identity"/);
    }
  }
});

test("a proxy without inputs to run on is an error, not a silent identity", async () => {
  const { proxy } = fakeProxy();
  try {
    await viaDefense({}, {}, proxy);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, DefenseInputError);
    assert.match(String(e), /inputs/);
  }
  assert.ok(createDefense("mad", {}, { core, proxy }).traits.needsInput);
  assert.not.ok(createDefense("mad", {}, { core }).traits.needsInput);
});

test("averaging repeated answers gains a thief nothing against MAD", async () => {
  const truth = y.subarray(0, K);
  const mad = createDefense("mad-argmax", { epsilon: 1 }, { core });
  const N = 25;
  const mean = new Float64Array(K);
  let single: Float32Array | undefined;
  for (let n = 0; n < N; n++) {
    const { probs } = await mad.apply(batchOf(Float32Array.from(truth), K, { proxyProbs: proxyProbs.slice(0, K) }));
    single ??= probs;
    for (let k = 0; k < K; k++) mean[k] += probs[k] / N;
  }
  for (let k = 0; k < K; k++) assert.ok(Math.abs(mean[k] - single![k]) < 1e-6, `class ${k}: the average differs from one answer`);
  assert.ok(l1(mean, truth) > 0.5, `the average should stay far from the truth (L1 ${l1(mean, truth)})`);
});

test("averaging repeated answers moves toward the truth against random noise", async () => {
  const truth = Float32Array.from([0.4, 0.3, 0.2, 0.1]);
  const noise = createDefense("random-noise", { mode: "prob-gaussian", sigma: 0.05, seed: 8 }, { core });
  const N = 400;
  const mean = new Float64Array(4);
  let singleDistance = 0;
  for (let n = 0; n < N; n++) {
    const { probs } = await noise.apply(batchOf(truth, 4));
    singleDistance += l1(probs, truth) / N;
    for (let k = 0; k < 4; k++) mean[k] += probs[k] / N;
  }
  assert.ok(l1(mean, truth) < 0.25 * singleDistance, `average L1 ${l1(mean, truth)} vs one answer ${singleDistance}`);
});

test("sweep: result e is what apply gives from the defense built with epsilons[e] and asked the same batches (argmax, extreme, random, keyed, gram)", async () => {
  const KEY = "00112233445566778899aabbccddeeff";
  const epsilons = [0.25, 1, 0.5];
  const cases: [string, Record<string, unknown>][] = [
    ["mad-argmax", {}],
    ["mad", { oracle: "extreme", distance: "l2" }],
    ["mad", { oracle: "random", seed: 7 }],
    ["mad-argmax", { keyMix: 0.5, key: KEY }],
    ["mad", { jacobian: "layers" }],
  ];
  for (const [name, params] of cases) {
    const { proxy } = fakeProxy();
    const swept = createDefense(name, { ...params, epsilon: 2 }, { core, proxy });
    assert.ok(swept.sweep, name);
    const alone = epsilons.map((epsilon) => createDefense(name, { ...params, epsilon }, { core, proxy }));
    // Two batches in a row: the random oracle's row counter runs on across them.
    for (let round = 0; round < 2; round++) {
      const batch = batchOf(y, K, { proxyProbs, inputs });
      const results = await swept.sweep!(batch, epsilons);
      assert.is(results.length, epsilons.length);
      for (let e = 0; e < epsilons.length; e++) {
        const expected = await alone[e].apply(batch);
        assert.equal(Array.from(results[e].probs), Array.from(expected.probs), `${name} ${JSON.stringify(params)} ε ${epsilons[e]} round ${round}`);
      }
    }
  }
  const mad = createDefense("mad-argmax", { epsilon: 1 }, { core });
  assert.equal(await mad.sweep!(batchOf(new Float32Array(0), K), [0.5, 1]), [{ probs: new Float32Array(0) }, { probs: new Float32Array(0) }]);
  try {
    await mad.sweep!(batchOf(y, K, { proxyProbs }), [0.5, -1]);
    assert.unreachable("a negative budget is refused");
  } catch (error) {
    assert.match(String(error), /epsilon/);
  }
});

test.run();
