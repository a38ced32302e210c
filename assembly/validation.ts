// Input checks for a batch. The first problem found is described by the globals below, which the
// TypeScript side turns into a CoreInputError naming the row and the field. The perturbation's
// entry points check each row with the same predicates as they load it (batch.ts) and only say
// that a row failed; the TypeScript side then asks validateProbabilityRows which and why.
export const FIELD_PROBS: i32 = 0;
export const FIELD_PROXY_PROBS: i32 = 1;
export const FIELD_GRAM: i32 = 2;

export const PROBLEM_NONE: i32 = 0;
export const PROBLEM_NOT_FINITE: i32 = 1;
export const PROBLEM_NEGATIVE: i32 = 2;
export const PROBLEM_SUM: i32 = 3;
export const PROBLEM_ASYMMETRIC: i32 = 4;
export const PROBLEM_NEGATIVE_DIAGONAL: i32 = 5;

/** A probability row may miss 1 by this much (float32 softmax outputs, rounding in JSON). */
export const SUM_TOLERANCE: f64 = 1e-3;
const SYMMETRY_TOLERANCE: f64 = 1e-6;

let problemRow: i32 = -1;
let problemField: i32 = 0;
let problemIndex: i32 = -1;
let problemValue: f64 = 0;

export function validationRow(): i32 { return problemRow; }
export function validationField(): i32 { return problemField; }
export function validationIndex(): i32 { return problemIndex; }
export function validationValue(): f64 { return problemValue; }

function report(problem: i32, row: i32, field: i32, index: i32, value: f64): i32 {
  problemRow = row;
  problemField = field;
  problemIndex = index;
  problemValue = value;
  return problem;
}

/** A probability entry: finite and non-negative (false for NaN). */
@inline
export function isProbabilityEntry(v: f64): bool {
  return v >= 0 && v < Infinity;
}

/** A probability row's sum: 1 within SUM_TOLERANCE (false for NaN). */
@inline
export function isProbabilitySum(sum: f64): bool {
  return abs<f64>(sum - 1.0) <= SUM_TOLERANCE;
}

@inline
function entry(ptr: usize, isF32: bool, i: usize): f64 {
  return isF32 ? <f64>load<f32>(ptr + (i << 2)) : load<f64>(ptr + (i << 3));
}

/** rows x K probability rows: finite, non-negative, summing to 1 within 1e-3. Returns a PROBLEM_*. */
export function validateProbabilityRows(ptr: usize, isF32: bool, rows: i32, K: i32, field: i32): i32 {
  for (let r = 0; r < rows; r++) {
    const base = <usize>r * <usize>K;
    let sum = 0.0;
    for (let i = 0; i < K; i++) {
      const v = entry(ptr, isF32, base + <usize>i);
      if (!isProbabilityEntry(v)) return report(isFinite(v) ? PROBLEM_NEGATIVE : PROBLEM_NOT_FINITE, r, field, i, v);
      sum += v;
    }
    if (!isProbabilitySum(sum)) return report(PROBLEM_SUM, r, field, -1, sum);
  }
  return report(PROBLEM_NONE, -1, field, -1, 0);
}

/** rows Gram matrices (K x K, f64): finite, symmetric, non-negative diagonal. */
export function validateGramMatrices(ptr: usize, rows: i32, K: i32): i32 {
  const size = <usize>K * <usize>K;
  for (let r = 0; r < rows; r++) {
    const M = ptr + ((<usize>r * size) << 3);
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) {
        const v = load<f64>(M + ((<usize>i * <usize>K + <usize>j) << 3));
        if (!isFinite(v)) return report(PROBLEM_NOT_FINITE, r, FIELD_GRAM, i * K + j, v);
        if (j < i) {
          const w = load<f64>(M + ((<usize>j * <usize>K + <usize>i) << 3));
          if (abs<f64>(v - w) > SYMMETRY_TOLERANCE * max<f64>(max<f64>(abs<f64>(v), abs<f64>(w)), 1e-12))
            return report(PROBLEM_ASYMMETRIC, r, FIELD_GRAM, i * K + j, v - w);
        }
      }
      const diagonal = load<f64>(M + ((<usize>i * <usize>K + <usize>i) << 3));
      if (diagonal < 0) return report(PROBLEM_NEGATIVE_DIAGONAL, r, FIELD_GRAM, i * K + i, diagonal);
    }
  }
  return report(PROBLEM_NONE, -1, FIELD_GRAM, -1, 0);
}
