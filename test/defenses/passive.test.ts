// The paper's passive baselines, value by value (MAD.md §5), including reverse sigmoid's check vector.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore } from "../../src/core/index.js";
import { createDefense } from "../../src/defenses/index.js";
import { batchOf, l1 } from "./helpers.js";

const core = await loadCore();
const answer = async (name: string, params: Record<string, unknown>, probs: number[], K = probs.length) =>
  Array.from((await createDefense(name, params, { core }).apply(batchOf(Float32Array.from(probs), K))).probs);
const close = (actual: number[], expected: number[], tolerance: number, what: string) => {
  assert.is(actual.length, expected.length, what);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tolerance, `${what}[${i}]: ${v} vs ${expected[i]}`));
};

test("reverse sigmoid reproduces the check vector (β = 1, γ = 0.1)", async () => {
  const y = [0.12109935, 0.0498215, 0.0993958, 0.06410096, 0.11366928, 0.04645343, 0.06419807, 0.30685693, 0.07616714, 0.05823757];
  const expected = [0.10733664, 0.07743666, 0.09712707, 0.08230411, 0.10377649, 0.0764482, 0.08234023, 0.20600921, 0.08703023, 0.08019119];
  close(await answer("reverse-sigmoid", { beta: 1, gamma: 0.1 }, y), expected, 2e-7, "reverse sigmoid");
});

test("reverse sigmoid with β = 0 is the identity; larger β flattens the answer", async () => {
  const y = [0.7, 0.2, 0.1];
  close(await answer("reverse-sigmoid", { beta: 0, gamma: 0.2 }, y), y, 1e-7, "β = 0");
  const flat = await answer("reverse-sigmoid", { beta: 1, gamma: 0.2 }, y);
  assert.ok(flat[0] < 0.7 && flat[2] > 0.1, JSON.stringify(flat));
});

test("top-k keeps the k largest (ties: lower index), renormalises only when asked", async () => {
  close(await answer("topk", { k: 2 }, [0.1, 0.5, 0.15, 0.25]), [0, 0.5, 0, 0.25], 1e-7, "k = 2");
  close(await answer("topk", { k: 2, renormalize: true }, [0.1, 0.5, 0.15, 0.25]), [0, 2 / 3, 0, 1 / 3], 1e-7, "renormalised");
  close(await answer("topk", { k: 2 }, [0.3, 0.3, 0.3, 0.1]), [0.3, 0.3, 0, 0], 1e-7, "ties");
  close(await answer("topk", { k: 1, renormalize: true }, [0.2, 0.8]), [0, 1], 1e-7, "top-1 one-hot");
  close(await answer("topk", { k: 9 }, [0.2, 0.8]), [0.2, 0.8], 1e-7, "k > K keeps everything");
});

test("rounding: decimals, no renormalisation by default, one-hot of the top class when nothing survives", async () => {
  close(await answer("rounding", { decimals: 1 }, [0.123, 0.456, 0.421]), [0.1, 0.5, 0.4], 1e-7, "1 decimal");
  const unnormalised = await answer("rounding", { decimals: 0 }, [0.3, 0.3, 0.4]);
  close(unnormalised, [0, 0, 0], 1e-7, "everything rounds to 0");
  close(await answer("rounding", { decimals: 0, renormalize: true }, [0.3, 0.3, 0.4]), [0, 0, 1], 1e-7, "renormalised fallback");
  close(await answer("rounding", { decimals: 1, renormalize: true }, [0.25, 0.25, 0.5]), [0.3 / 1.1, 0.3 / 1.1, 0.5 / 1.1], 1e-7, "renormalised");
});

test("labels: each row's own argmax (a batch is not one row)", async () => {
  close(await answer("labels", {}, [0.1, 0.9, 0.8, 0.2, 0.5, 0.5], 2), [0, 1, 1, 0, 1, 0], 1e-7, "labels");
});

test("high confidence zeroes entries below the cutoff and never empties a row", async () => {
  close(await answer("high-confidence", { cutoff: 0.3 }, [0.2, 0.5, 0.3]), [0, 0.5, 0.3], 1e-7, "cutoff 0.3");
  close(await answer("high-confidence", { cutoff: 0.9 }, [0.2, 0.5, 0.3]), [0, 0.5, 0], 1e-7, "top kept");
  close(await answer("high-confidence", { cutoff: 0.9, renormalize: true }, [0.2, 0.5, 0.3]), [0, 1, 0], 1e-7, "renormalised");
});

test("none returns a copy of y", async () => {
  const y = Float32Array.from([0.25, 0.75]);
  const d = createDefense("none");
  const { probs } = await d.apply(batchOf(y, 2));
  assert.equal(Array.from(probs), [0.25, 0.75]);
  assert.is.not(probs, y);
});

test("random noise: zero noise returns y; the noise respects its logit-space ball", async () => {
  const y = [0.6, 0.25, 0.1, 0.05];
  close(await answer("random-noise", { mode: "logit-uniform", epsilon: 0 }, y), y, 1e-6, "ε = 0");
  close(await answer("random-noise", { mode: "prob-gaussian", sigma: 0 }, y), y, 1e-7, "σ = 0");
  // σ' <= 1/4, so a noise vector inside a small logit ball moves y little; a large ball moves it visibly.
  for (const norm of ["l1", "l2"]) {
    for (const mode of ["logit-uniform", "logit-gaussian"]) {
      const small = createDefense("random-noise", { mode, epsilon: 0.01, norm, seed: 1 }, { core });
      const large = createDefense("random-noise", { mode, epsilon: 3, norm, seed: 1 }, { core });
      for (let r = 0; r < 10; r++) {
        const t = Array.from((await small.apply(batchOf(Float32Array.from(y), 4))).probs);
        assert.ok(l1(t, y) <= 0.01, `${mode} ${norm} ε = 0.01 moved y by ${l1(t, y)}`);
        const u = Array.from((await large.apply(batchOf(Float32Array.from(y), 4))).probs);
        assert.ok(l1(u, y) > 0.01, `${mode} ${norm} ε = 3 left y almost unchanged`);
      }
    }
  }
});

test.run();
