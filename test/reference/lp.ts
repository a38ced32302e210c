// A small dense two-phase simplex solver (Bland's rule), float64. Test-only: the oracle that checks the
// closed-form ModelGuard-W solver of the core on small K. Not fast, not meant for more than ~100 variables.

export type Relation = "<=" | ">=" | "=";

export interface LinearProgram {
  /** Maximise objective · x over x >= 0. */
  readonly objective: readonly number[];
  readonly constraints: readonly { readonly coefficients: readonly number[]; readonly relation: Relation; readonly rhs: number }[];
}

export type LpResult =
  | { status: "optimal"; x: Float64Array; value: number }
  | { status: "infeasible" }
  | { status: "unbounded" };

const TOL = 1e-11;

export function solveLinearProgram(lp: LinearProgram): LpResult {
  const n = lp.objective.length;
  const rows = lp.constraints.map((c) => {
    if (c.coefficients.length !== n) throw new Error(`constraint has ${c.coefficients.length} coefficients, expected ${n}`);
    // Keep every right-hand side non-negative.
    return c.rhs < 0
      ? { a: c.coefficients.map((v) => -v), rel: (c.relation === "<=" ? ">=" : c.relation === ">=" ? "<=" : "=") as Relation, b: -c.rhs }
      : { a: [...c.coefficients], rel: c.relation, b: c.rhs };
  });
  const m = rows.length;
  const slackCount = rows.filter((r) => r.rel !== "=").length;
  const artificialCount = rows.filter((r) => r.rel !== "<=").length;
  const width = n + slackCount + artificialCount; // columns before the right-hand side
  const firstArtificial = n + slackCount;
  const T: Float64Array[] = [];
  const basis = new Int32Array(m);
  let s = n;
  let a = firstArtificial;
  for (let i = 0; i < m; i++) {
    const row = new Float64Array(width + 1);
    rows[i].a.forEach((v, j) => (row[j] = v));
    row[width] = rows[i].b;
    if (rows[i].rel === "<=") {
      row[s] = 1;
      basis[i] = s++;
    } else {
      if (rows[i].rel === ">=") row[s++] = -1;
      row[a] = 1;
      basis[i] = a++;
    }
    T.push(row);
  }

  const pivot = (z: Float64Array, r: number, col: number) => {
    const pr = T[r];
    const pv = pr[col];
    for (let j = 0; j <= width; j++) pr[j] /= pv;
    const eliminate = (row: Float64Array) => {
      const f = row[col];
      if (f !== 0) for (let j = 0; j <= width; j++) row[j] -= f * pr[j];
    };
    for (let i = 0; i < m; i++) if (i !== r) eliminate(T[i]);
    eliminate(z);
    basis[r] = col;
  };

  // Runs simplex iterations on reduced-cost row z (z_j = reduced cost, maximising: enter while z_j < 0).
  const iterate = (z: Float64Array, allowed: (j: number) => boolean): "optimal" | "unbounded" => {
    for (let iter = 0; iter < 50_000; iter++) {
      let col = -1;
      for (let j = 0; j < width; j++) {
        if (allowed(j) && z[j] < -TOL) {
          col = j;
          break; // Bland: the lowest index
        }
      }
      if (col < 0) return "optimal";
      let r = -1;
      let bestRatio = Infinity;
      for (let i = 0; i < m; i++) {
        const v = T[i][col];
        if (v > TOL) {
          const ratio = T[i][width] / v;
          if (ratio < bestRatio - TOL || (Math.abs(ratio - bestRatio) <= TOL && basis[i] < basis[r])) {
            bestRatio = ratio;
            r = i;
          }
        }
      }
      if (r < 0) return "unbounded";
      pivot(z, r, col);
    }
    throw new Error("simplex did not terminate");
  };

  const reducedCosts = (cost: (j: number) => number) => {
    const z = new Float64Array(width + 1);
    for (let j = 0; j < width; j++) z[j] = -cost(j);
    for (let i = 0; i < m; i++) {
      const cb = cost(basis[i]);
      if (cb !== 0) for (let j = 0; j <= width; j++) z[j] += cb * T[i][j];
    }
    return z;
  };

  // Phase 1: maximise −Σ artificials.
  if (artificialCount > 0) {
    const z1 = reducedCosts((j) => (j >= firstArtificial ? -1 : 0));
    iterate(z1, () => true);
    if (z1[width] < -1e-9) return { status: "infeasible" };
    // Drive artificials still basic (at level 0) out of the basis where a real column allows it.
    for (let i = 0; i < m; i++) {
      if (basis[i] < firstArtificial) continue;
      for (let j = 0; j < firstArtificial; j++) {
        if (Math.abs(T[i][j]) > 1e-9) {
          pivot(z1, i, j);
          break;
        }
      }
    }
  }
  const z2 = reducedCosts((j) => (j < n ? lp.objective[j] : 0));
  if (iterate(z2, (j) => j < firstArtificial) === "unbounded") return { status: "unbounded" };
  const x = new Float64Array(n);
  for (let i = 0; i < m; i++) if (basis[i] < n) x[basis[i]] = T[i][width];
  let value = 0;
  for (let j = 0; j < n; j++) value += lp.objective[j] * x[j];
  return { status: "optimal", x, value };
}

/**
 * ModelGuard-W as an LP over (x, t): maximise Σ c_k x_k, c_k = −log(y_k + 1e-6), with Σ x = 1, |x_k − y_k| <= t_k,
 * Σ t <= ε, x_m − x_j >= margin (m = first argmax of y).
 */
export function modelguardLinearProgram(y: ArrayLike<number>, epsilon: number, margin = 1e-4): LinearProgram {
  const K = y.length;
  let m = 0;
  for (let k = 1; k < K; k++) if (y[k] > y[m]) m = k;
  const zeros = () => new Array<number>(2 * K).fill(0);
  const constraints: { coefficients: number[]; relation: Relation; rhs: number }[] = [];
  const sum = zeros();
  for (let k = 0; k < K; k++) sum[k] = 1;
  constraints.push({ coefficients: sum, relation: "=", rhs: 1 });
  for (let k = 0; k < K; k++) {
    const upper = zeros();
    upper[k] = 1;
    upper[K + k] = -1;
    constraints.push({ coefficients: upper, relation: "<=", rhs: y[k] });
    const lower = zeros();
    lower[k] = 1;
    lower[K + k] = 1;
    constraints.push({ coefficients: lower, relation: ">=", rhs: y[k] });
  }
  const budget = zeros();
  for (let k = 0; k < K; k++) budget[K + k] = 1;
  constraints.push({ coefficients: budget, relation: "<=", rhs: epsilon });
  for (let j = 0; j < K; j++) {
    if (j === m) continue;
    const gap = zeros();
    gap[m] = 1;
    gap[j] = -1;
    constraints.push({ coefficients: gap, relation: ">=", rhs: margin });
  }
  const objective = zeros();
  for (let k = 0; k < K; k++) objective[k] = -Math.log(y[k] + 1e-6);
  return { objective, constraints };
}

export function modelguardObjective(y: ArrayLike<number>, x: ArrayLike<number>): number {
  let v = 0;
  for (let k = 0; k < y.length; k++) v += -Math.log(y[k] + 1e-6) * x[k];
  return v;
}
