// Running statistics of a defended model's answers: Welford updates (one pass, never over the history).

/** KL(y‖ỹ) floors ỹ here, so answers that zero a class (top-k, labels) give a large finite value, not ∞. */
export const KL_FLOOR = 1e-8;

export interface DistanceSummary {
  readonly mean: number;
  /** Population standard deviation (divides by the count). */
  readonly std: number;
  readonly max: number;
}

/** Mean, variance and max of a stream of numbers (Welford 1962). */
export class RunningStats {
  private n = 0;
  private mean = 0;
  private m2 = 0;
  private maximum = 0;

  push(x: number): void {
    this.n += 1;
    const delta = x - this.mean;
    this.mean += delta / this.n;
    this.m2 += delta * (x - this.mean);
    if (this.n === 1 || x > this.maximum) this.maximum = x;
  }

  get count(): number {
    return this.n;
  }

  summary(): DistanceSummary {
    if (this.n === 0) return { mean: 0, std: 0, max: 0 };
    return { mean: this.mean, std: Math.sqrt(Math.max(this.m2 / this.n, 0)), max: this.maximum };
  }

  reset(): void {
    this.n = 0;
    this.mean = 0;
    this.m2 = 0;
    this.maximum = 0;
  }
}

/** L1, L2 and KL(y‖ỹ) between row i of y and of ỹ (float64; 0·log 0 = 0, ỹ floored at KL_FLOOR). */
export function perturbationDistances(y: ArrayLike<number>, yTilde: ArrayLike<number>, i: number, K: number): { l1: number; l2: number; kl: number } {
  let l1 = 0;
  let l2 = 0;
  let kl = 0;
  for (let k = 0; k < K; k++) {
    const a = y[i * K + k];
    const b = yTilde[i * K + k];
    const d = a - b;
    l1 += Math.abs(d);
    l2 += d * d;
    if (a > 0) kl += a * Math.log(a / Math.max(b, KL_FLOOR));
  }
  return { l1, l2: Math.sqrt(l2), kl };
}
