// The upper tail of a binomial distribution, P[X ≥ k] for X ~ Binomial(n, p), accurate down to the
// smallest doubles and beyond (in log space): the watermark verification's p-value. The sum runs from
// the term at k upward, each term from the previous by the ratio (n − i)/(i + 1) · p/(1 − p), in logs
// with a log-sum-exp, starting from log C(n, k) + k log p + (n − k) log(1 − p) via log-gamma.
import { PredictionPoisoningError } from "../core/errors.js";

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** ln n! (exact table for small n, log-gamma above). */
function logFactorial(n: number): number {
  if (n < 2) return 0;
  if (n < 171) {
    let f = 1;
    for (let i = 2; i <= n; i++) f *= i;
    return Math.log(f);
  }
  return logGamma(n + 1);
}

/** ln P[X ≥ k], X ~ Binomial(n, p). */
export function logBinomialTail(k: number, n: number, p: number): number {
  if (!(Number.isInteger(n) && n >= 0)) throw new PredictionPoisoningError("input", `n must be a non-negative integer, got ${n}`, { field: "n" });
  if (!(Number.isInteger(k))) throw new PredictionPoisoningError("input", `k must be an integer, got ${k}`, { field: "k" });
  if (!(p >= 0 && p <= 1)) throw new PredictionPoisoningError("input", `p must be in [0, 1], got ${p}`, { field: "p" });
  if (k <= 0) return 0;
  if (k > n) return -Infinity;
  if (p === 0) return -Infinity;
  if (p === 1) return 0;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  let term = logFactorial(n) - logFactorial(k) - logFactorial(n - k) + k * lp + (n - k) * lq;
  // Sum the terms i = k..n: log-sum-exp relative to the largest term seen so far.
  let max = term;
  let sum = 1; // Σ exp(term_i − max)
  for (let i = k; i < n; i++) {
    term += Math.log((n - i) / (i + 1)) + lp - lq;
    if (term > max) {
      sum = sum * Math.exp(max - term) + 1;
      max = term;
    } else {
      const r = Math.exp(term - max);
      sum += r;
      if (r < 1e-17 * sum && i + 1 > n * p) break; // past the mode and negligible: the rest decreases geometrically
    }
  }
  return Math.min(0, max + Math.log(sum));
}

/** P[X ≥ k], X ~ Binomial(n, p) (underflows to 0 below ~1e-308: use logBinomialTail there). */
export function binomialTail(k: number, n: number, p: number): number {
  return Math.exp(logBinomialTail(k, n, p));
}
