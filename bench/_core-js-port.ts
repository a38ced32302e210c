// One-off experiment behind docs/CORE.md's "WASM against V8" paragraph (not a bench suite: the
// leading underscore keeps bench/run.ts from picking it up). It ports the core's two hot paths to
// plain TypeScript, loop for loop, and times them against the WASM core on the same rows:
//   node --import tsx bench/_core-js-port.ts
// The ports exist only here; the production implementation is the WASM core.
import { loadCore } from "../src/core/index.js";
import { createRng, randomSimplexPoint } from "../test/reference/random.js";

const DELTA = 1e-5;

function rows(seed: number, B: number, K: number, sharpness: number): Float64Array {
  const rng = createRng(seed);
  const out = new Float64Array(B * K);
  for (let r = 0; r < B; r++) out.set(randomSimplexPoint(rng, K, sharpness), r * K);
  return out;
}

/** Queries per CPU-second of this process (one core's throughput, also on a busy machine). */
function rate(f: () => unknown, perCall: number): number {
  const warm = performance.now();
  while (performance.now() - warm < 300) f();
  let calls = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < 1000) (f(), calls++);
  const used = process.cpuUsage(cpu);
  return (calls * perCall) / ((used.user + used.system) / 1e6);
}

/** Exact MAD-argmax (probs, angular) with the core's Gray walk and L1 line search, for a batch. */
function argmaxPort(probs: Float64Array, proxy: Float64Array, K: number, epsilon: number, out: Float64Array): void {
  const B = probs.length / K;
  const inv = new Float64Array(K);
  const cc = new Float64Array(K);
  for (let n = 1; n <= K; n++) (inv[n - 1] = 1 / (n + DELTA)), (cc[n - 1] = (n - 1 + (1 + DELTA) ** 2) * inv[n - 1] ** 2);
  const d = new Float64Array(K);
  const yBit = new Float64Array(K);
  const dBit = new Float64Array(K);
  for (let r = 0; r < B; r++) {
    const o = r * K;
    let m = 0;
    for (let i = 1; i < K; i++) if (probs[o + i] > probs[o + m]) m = i;
    let dd = 0, dy = 0, yy = 0;
    for (let i = 0; i < K; i++) {
      const yi = probs[o + i];
      d[i] = proxy[o + i] - yi;
      dd += d[i] * d[i];
      dy += d[i] * yi;
      yy += yi * yi;
    }
    for (let b = 0; b < K - 1; b++) {
      const j = b < m ? b : b + 1;
      yBit[b] = probs[o + j];
      dBit[b] = d[j];
    }
    const ym = probs[o + m], dm = d[m];
    let n = 1, sy = ym, sd = dm, mask = 0, bestCode = 0, bestKey = 0, bestNorm = 1;
    for (let i = 0; i < 1 << (K - 1); i++) {
      if (i > 0) {
        const bit = 31 - Math.clz32(i & -i);
        mask ^= 1 << bit;
        if (mask & (1 << bit)) (n++, (sy += yBit[bit]), (sd += dBit[bit]));
        else (n--, (sy -= yBit[bit]), (sd -= dBit[bit]));
      }
      const iv = inv[n - 1];
      const uu = Math.max(cc[n - 1] - 2 * (sy + DELTA * ym) * iv + yy, 0);
      const shift = (sd + DELTA * dm) * iv - dy;
      const cross = dd - shift;
      const norm = dd - 2 * shift + uu;
      const key = cross * Math.abs(cross);
      if (i === 0 || key * bestNorm < bestKey * norm) (bestKey = key), (bestNorm = norm), (bestCode = mask);
    }
    let size = 1;
    for (let b = 0; b < K - 1; b++) if ((bestCode >> b) & 1) size++;
    const iv = 1 / (size + DELTA);
    let dist = 0;
    for (let i = 0; i < K; i++) {
      const b = i < m ? i : i - 1;
      const t = i === m ? (1 + DELTA) * iv : (bestCode >> b) & 1 ? iv : 0;
      out[o + i] = t;
      dist += Math.abs(t - probs[o + i]);
    }
    const alpha = Math.min(1, epsilon / (dist + 1e-7));
    for (let i = 0; i < K; i++) out[o + i] = (1 - alpha) * probs[o + i] + alpha * out[o + i];
  }
}

/** MAD extreme (probs, angular) with the core's division-free keys and L1 line search, one row. */
function extremePort(y: Float64Array, p: Float64Array, epsilon: number): Float64Array {
  const K = y.length;
  let sum = 0;
  for (let i = 0; i < K; i++) {
    if (!Number.isFinite(y[i]) || y[i] < 0) throw new RangeError(`entry ${i}`);
    sum += y[i];
  }
  if (Math.abs(sum - 1) > 1e-3) throw new RangeError("sum");
  let dd = 0, dy = 0, yy = 0;
  for (let i = 0; i < K; i++) {
    const di = p[i] - y[i];
    dd += di * di;
    dy += di * y[i];
    yy += y[i] * y[i];
  }
  let best = 0, bestKey = 0, bestNorm = 1;
  for (let k = 0; k < K; k++) {
    const uu = Math.max(1 - 2 * y[k] + yy, 0);
    const shift = p[k] - y[k] - dy;
    const cross = dd - shift;
    const norm = dd - 2 * shift + uu;
    const key = cross * Math.abs(cross);
    if (k === 0 || key * bestNorm < bestKey * norm) (best = k), (bestKey = key), (bestNorm = norm);
  }
  const out = new Float64Array(K);
  const alpha = Math.min(1, epsilon / (2 * (1 - y[best]) + 1e-7));
  for (let i = 0; i < K; i++) out[i] = (1 - alpha) * y[i] + (i === best ? alpha : 0);
  return out;
}

const core = await loadCore();
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
console.log("configuration                      WASM q/s   plain TS q/s   max |difference|");
for (const [K, B] of [[10, 1], [10, 1024]] as const) {
  const probs = rows(1, B, K, 4);
  const proxy = rows(2, B, K, 0.5);
  const perturber = core.createPerturber({ oracle: "argmax", objective: "angular", distance: "l1", epsilon: 0.5 });
  const jacobian = { kind: "probs" as const, proxyProbs: proxy };
  const out = new Float64Array(B * K);
  argmaxPort(probs, proxy, K, 0.5, out);
  const diff = maxDiff(perturber.perturb(probs, K, jacobian), out);
  const wasm = rate(() => perturber.perturb(probs, K, jacobian), B);
  const ts = rate(() => argmaxPort(probs, proxy, K, 0.5, out), B);
  console.log(`argmax  K=${K} batch ${B}`.padEnd(32), wasm.toFixed(0).padStart(10), ts.toFixed(0).padStart(14), diff.toExponential(1).padStart(18));
}
for (const K of [10, 100, 1000]) {
  const [y] = [rows(1, 1, K, 4)];
  const p = rows(2, 1, K, 0.5);
  const perturber = core.createPerturber({ oracle: "extreme", objective: "angular", distance: "l1", epsilon: 0.5 });
  const jacobian = { kind: "probs" as const, proxyProbs: p };
  const diff = maxDiff(perturber.perturb(y, K, jacobian), extremePort(y, p, 0.5));
  const wasm = rate(() => perturber.perturb(y, K, jacobian), 1);
  const ts = rate(() => extremePort(y, p, 0.5), 1);
  console.log(`extreme K=${K} batch 1`.padEnd(32), wasm.toFixed(0).padStart(10), ts.toFixed(0).padStart(14), diff.toExponential(1).padStart(18));
}
