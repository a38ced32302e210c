// The Shapiro–Wilk test of normality: W and its p-value by Royston's algorithm AS R94 (Royston 1995,
// "Remark AS R94: A remark on algorithm AS 181: the W-test for normality", Applied Statistics 44(4)),
// the algorithm behind R's shapiro.test and scipy.stats.shapiro. Valid for 3 <= n <= 5000. No npm
// statistics package kept up to date has it (jstat, simple-statistics and @stdlib have no Shapiro–Wilk),
// so it is written once here; edge-safe (no `node:` imports), used by the PRADA detector (prada.ts).
import { PredictionPoisoningError } from "../core/errors.js";

export interface ShapiroWilkResult {
  /** The statistic W in (0, 1]: close to 1 for a normal sample. */
  readonly w: number;
  /** P(W <= w) under normality (Royston's normal approximation; exact for n = 3). */
  readonly p: number;
  readonly n: number;
}

export const SHAPIRO_WILK_MAX_N = 5000;

/**
 * Standard normal upper tail Q(x) = 1 - Φ(x): Hart's algorithm 5666 as given by West (2005), "Better
 * approximations to cumulative normal functions". Absolute error below 1e-15; relative error below 1e-8.
 */
export function normalUpperTail(x: number): number {
  const z = Math.abs(x);
  let c: number;
  if (z > 37) c = 0;
  else {
    const e = Math.exp((-z * z) / 2);
    if (z < 7.07106781186547) {
      let b = 3.52624965998911e-2 * z + 0.700383064443688;
      b = b * z + 6.37396220353165;
      b = b * z + 33.912866078383;
      b = b * z + 112.079291497871;
      b = b * z + 221.213596169931;
      b = b * z + 220.206867912376;
      let d = 8.83883476483184e-2 * z + 1.75566716318264;
      d = d * z + 16.064177579207;
      d = d * z + 86.7807322029461;
      d = d * z + 296.564248779674;
      d = d * z + 637.333633378831;
      d = d * z + 793.826512519948;
      d = d * z + 440.413735824752;
      c = (e * b) / d;
    } else {
      // The continued fraction Q(z) = φ(z) / (z + 1/(z + 2/(z + 3/(z + ...)))), 40 terms deep (West uses 5).
      let b = z;
      for (let k = 40; k >= 1; k--) b = z + k / b;
      c = e / b / 2.5066282746310002;
    }
  }
  return x >= 0 ? c : 1 - c;
}

// Acklam's rational approximation of Φ⁻¹ (relative error 1.2e-9), then one Halley step on Φ.
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

/** Φ⁻¹(p), the standard normal quantile, for 0 < p < 1. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return -Infinity;
    if (p === 1) return Infinity;
    return NaN;
  }
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  // Halley refinement: e = Φ(x) - p, u = e * sqrt(2π) * exp(x²/2).
  const e = normalUpperTail(-x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** cc[0] + cc[1] x + cc[2] x² + ... */
function poly(cc: readonly number[], x: number): number {
  let r = 0;
  for (let j = cc.length - 1; j >= 0; j--) r = r * x + cc[j];
  return r;
}

const C1 = [0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056];
const C2 = [0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633];
const C3 = [0.544, -0.39978, 0.025054, -6.714e-4];
const C4 = [1.3822, -0.77857, 0.062767, -0.0020322];
const C5 = [-1.5861, -0.31082, -0.083751, 0.0038915];
const C6 = [-0.4803, -0.082676, 0.0030302];
const G = [-2.273, 0.459];

const coefficientCache = new Map<number, Float64Array>();

/** The n/2 coefficients a_1..a_{n/2} (positive; a_{n+1-i} = -a_i), normalised so that Σ a² = 1. */
export function shapiroWilkCoefficients(n: number): Float64Array {
  const cached = coefficientCache.get(n);
  if (cached) return cached;
  const half = Math.floor(n / 2);
  const a = new Float64Array(half);
  if (n === 3) a[0] = Math.SQRT1_2;
  else {
    const m = new Float64Array(half);
    let summ2 = 0;
    for (let i = 0; i < half; i++) {
      m[i] = normalQuantile((i + 1 - 0.375) / (n + 0.25));
      summ2 += m[i] * m[i];
    }
    summ2 *= 2;
    const ssumm2 = Math.sqrt(summ2);
    const rsn = 1 / Math.sqrt(n);
    const a1 = poly(C1, rsn) - m[0] / ssumm2;
    let first: number;
    let fac: number;
    if (n > 5) {
      first = 2;
      const a2 = -m[1] / ssumm2 + poly(C2, rsn);
      fac = Math.sqrt((summ2 - 2 * m[0] * m[0] - 2 * m[1] * m[1]) / (1 - 2 * a1 * a1 - 2 * a2 * a2));
      a[1] = a2;
    } else {
      first = 1;
      fac = Math.sqrt((summ2 - 2 * m[0] * m[0]) / (1 - 2 * a1 * a1));
    }
    a[0] = a1;
    for (let i = first; i < half; i++) a[i] = -m[i] / fac;
  }
  if (coefficientCache.size > 64) coefficientCache.clear();
  coefficientCache.set(n, a);
  return a;
}

/**
 * W and its p-value for a sample of 3..5000 finite values (any order; not modified). Throws a RangeError
 * for fewer than 3 or more than 5000 values, and when every value is the same (W is undefined).
 */
export function shapiroWilk(sample: ArrayLike<number>): ShapiroWilkResult {
  const n = sample.length;
  if (n < 3) throw new PredictionPoisoningError("input", `Shapiro–Wilk needs at least 3 values, got ${n}`, { field: "x" });
  if (n > SHAPIRO_WILK_MAX_N) throw new PredictionPoisoningError("input", `Shapiro–Wilk (AS R94) is valid for at most ${SHAPIRO_WILK_MAX_N} values, got ${n}`, { field: "x" });
  const x = Float64Array.from(sample as ArrayLike<number>);
  for (let i = 0; i < n; i++) if (!Number.isFinite(x[i])) throw new PredictionPoisoningError("input", `Shapiro–Wilk: value ${i} is ${x[i]}`, { field: "x" });
  x.sort();
  const range = x[n - 1] - x[0];
  if (!(range > 0)) throw new PredictionPoisoningError("input", "Shapiro–Wilk: every value is the same (W is undefined)", { field: "x" });
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
  const a = shapiroWilkCoefficients(n);
  let b = 0;
  for (let i = 0; i < a.length; i++) b += a[i] * (x[n - 1 - i] - x[i]);
  const w = Math.min(1, (b * b) / ss);
  return { w, p: shapiroWilkPValue(w, n), n };
}

/** Royston's p-value of W for a sample of n (3 <= n <= 5000). */
export function shapiroWilkPValue(w: number, n: number): number {
  if (n === 3) {
    const p = (6 / Math.PI) * (Math.asin(Math.sqrt(w)) - Math.PI / 3);
    return Math.min(1, Math.max(0, p));
  }
  if (w >= 1) return 1;
  let y = Math.log(1 - w);
  let m: number;
  let s: number;
  if (n <= 11) {
    const gamma = poly(G, n);
    if (y >= gamma) return 1e-99; // W so small the approximation has no tail left: as R and scipy do
    y = -Math.log(gamma - y);
    m = poly(C3, n);
    s = Math.exp(poly(C4, n));
  } else {
    const ln = Math.log(n);
    m = poly(C5, ln);
    s = Math.exp(poly(C6, ln));
  }
  return normalUpperTail((y - m) / s);
}
