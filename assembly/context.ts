// The per-row context: everything one row's perturbation reads and writes, as a struct in linear
// memory at the start of the work space the TypeScript side hands to perturbBatch (src/core/perturber.ts).
// Every function below the entry points takes it explicitly; the core keeps no row state in globals.
import { ARGMAX_TIE_BREAK } from "./objectives";

/** The perturber's options for one batch (copied from configure() by the entry points, batch.ts). */
@unmanaged
export class Options {
  oracle: i32;
  objective: i32;
  distance: i32;
  step: i32;
  /** The budget ε of perturbBatch (perturbSweep steps to each of its own list instead, batch.ts). */
  epsilon: f64;
  seed: u32;
  /** MAD-argmax: exhaustive up to K = exactLimit (oracles.ts), sorted search or greedy beyond. */
  exactLimit: i32;
  /** MAD-argmax beyond the limit: swap passes after the search (greedy.ts refineSubset). */
  refine: bool;
}

/**
 * One subset S ∋ m of MAD-argmax as running sums (subsets.ts): |S|, Σ y and Σ d over S \ {m}
 * (split at m, see objectives.ts squaredGap), and for gram Σ (My) and 1_SᵀM1_S over S and the vector
 * M·1_S. `members`: K bytes, 1 for a class in S.
 */
@unmanaged
export class Subset {
  size: i32;
  sumY: f64;
  sumD: f64;
  sumMy: f64;
  quadratic: f64;
  members: usize;
  running: usize;
}

@unmanaged
export class Row {
  K: i32;
  options: Options;
  // ---- the row's vectors (K f64 each; set once per batch by layoutRow)
  y: usize;
  /** d = p − y (probs). */
  d: usize;
  /** The row's K x K Gram matrix M, inside the caller's Jacobian buffer (gram). */
  M: usize;
  /** M·y (gram). */
  My: usize;
  /** The oracle's target y*. */
  target: usize;
  /** The step's answer ỹ before rounding. */
  answer: usize;
  /** A materialised candidate (reachable L1/KL scoring of a subset). */
  candidate: usize;
  /** 1/(n + δ) and Σ_{i≠m} (v_S)_i² = (n − 1)/(n + δ)² for n = |S| = 1..K: they depend on K only (fillSizeTables, once per batch). */
  sizeInverse: usize;
  sizeSquares: usize;
  /** 2K f64: ±y and ±d of the classes other than m by Gray-code bit, the sign of joining then of leaving (exhaustive.ts). */
  yByBit: usize;
  dByBit: usize;
  /** 10K f64: per lane-0 size n, the terms of keyAtCandidate that depend on n only, for n and n + 1 (exhaustive.ts fillLaneTerms). */
  laneTerms: usize;
  /** K i32: the order whose prefix is the sorted search's best subset (sorted.ts). */
  bestOrder: usize;
  /** 2K f64 each: (key, class) records of one order and the merge sort's other buffer (sorted.ts). */
  records: usize;
  spareRecords: usize;
  /** The extreme oracle's comparison key and norm of each vertex e_k (identity, gram; oracles.ts). */
  vertexKeys: usize;
  vertexNorms: usize;
  /** 8 v128: a loop's constants (oracles.ts vertexPairsAngular). */
  lanes: usize;
  /** 4K f64: alternating projections' work space (steps.ts). */
  scratch: usize;
  /** MAD-argmax's current subset (the exhaustive walk, the greedy, the sorted search's polish). */
  subset: Subset;
  // ---- row constants (objectives.ts prepareRow*)
  jacobian: i32;
  /** The objective actually used: angular falls back to surrogate when a = 0. */
  angular: bool;
  yy: f64; // ‖y‖²
  dd: f64; // probs: ‖d‖²
  yMy: f64; // gram: yᵀMy
  gramScale: f64; // gram: trace M, the scale of xᵀMx on the simplex
  // The top class m (first argmax of y) is kept out of the sums below (see objectives.ts squaredGap).
  topClass: i32;
  topY: f64; // y_m
  topD: f64; // probs: d_m
  yyRest: f64; // Σ_{i≠m} y_i²
  dyRest: f64; // probs: Σ_{i≠m} d_i y_i
  /** k when the target is the vertex e_k (extreme, argmin, random), else −1 (oracles.ts chooseTarget). */
  targetVertex: i32;
  /** Whether row.target holds that vertex yet (oracles.ts targetVector). */
  targetFilled: bool;
  /** ‖y − e_k‖₁ for that vertex when the oracle summed it on its own pass (as l1Distance would), else NaN. */
  vertexL1: f64;
  // ---- how candidates are scored in this row (reachable: at the point the line search reaches)
  reachable: bool;
  reachEpsilon: f64;
}

/** K-f64 vectors a row needs after the structs: the strides layoutRow takes, 31 in all. */
const ROW_VECTORS: i32 = 31;
/** The scratch vectors (4K f64). */
const SCRATCH_VECTORS: i32 = 4;
/** Bytes of the structs at the start of the work space, with room to align each to 16 bytes. */
const STRUCT_BYTES: usize = offsetof<Row>() + offsetof<Options>() + offsetof<Subset>() + 64;
/** Bytes of row.lanes. */
const LANE_BYTES: usize = 128;

/** Bytes of work space a row of K classes needs (workBytes in batch.ts). */
export function rowWorkBytes(K: i32): i32 {
  return (ROW_VECTORS + SCRATCH_VECTORS) * K * 8 + <i32>(STRUCT_BYTES + LANE_BYTES) + 16;
}

@inline
function align16(p: usize): usize {
  return (p + 15) & ~(<usize>15);
}

/** The size tables of MAD-argmax's candidates v_S: 1/(n + δ) and (n − 1)/(n + δ)², n = 1..K (once per batch). */
export function fillSizeTables(row: Row): void {
  for (let size = 1; size <= row.K; size++) {
    const inv = 1.0 / (<f64>size + ARGMAX_TIE_BREAK);
    store<f64>(row.sizeInverse + (<usize>(size - 1) << 3), inv);
    store<f64>(row.sizeSquares + (<usize>(size - 1) << 3), <f64>(size - 1) * inv * inv);
  }
}

/** Lays the row's structs and vectors out in `work` (rowWorkBytes(K) bytes); returns the row. */
export function layoutRow(work: usize, K: i32): Row {
  const base = align16(work);
  const row = changetype<Row>(base);
  const options = align16(base + offsetof<Row>());
  const subset = align16(options + offsetof<Options>());
  row.lanes = align16(subset + offsetof<Subset>());
  const first = row.lanes + LANE_BYTES;
  const stride = <usize>K << 3;
  row.K = K;
  row.options = changetype<Options>(options);
  row.subset = changetype<Subset>(subset);
  row.M = 0;
  let at = first;
  row.y = at; at += stride;
  row.d = at; at += stride;
  row.My = at; at += stride;
  row.target = at; at += stride;
  row.answer = at; at += stride;
  row.candidate = at; at += stride;
  row.sizeInverse = at; at += stride;
  row.sizeSquares = at; at += stride;
  row.bestOrder = at; at += stride; // K i32
  row.subset.running = at; at += stride;
  row.subset.members = at; at += stride; // K bytes
  row.yByBit = at; at += 2 * stride;
  row.dByBit = at; at += 2 * stride;
  row.records = at; at += 2 * stride;
  row.spareRecords = at; at += 2 * stride;
  row.laneTerms = at; at += 10 * stride;
  row.vertexKeys = at; at += stride;
  row.vertexNorms = at; at += stride;
  row.scratch = at; // = first + ROW_VECTORS strides
  return row;
}
