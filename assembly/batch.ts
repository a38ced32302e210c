// Batched entry points: a whole batch (B x K) per call over buffers in WASM memory. The TypeScript
// side lays the buffers out (input, Jacobian, output, targets, work) and passes pointers; nothing
// here allocates, so there is no per-query allocation and no garbage.
import { Options, Row, fillSizeTables, layoutRow, rowWorkBytes } from "./context";
import {
  JACOBIAN_GRAM, JACOBIAN_PROBS, OBJECTIVE_ANGULAR, ROW_PREPARED, SUM_ROUNDING,
  prepareRowGram, prepareRowIdentity, prepareRowProbsAsLoaded,
} from "./objectives";
import { isProbabilityEntry, isProbabilitySum } from "./validation";
import { MAX_EXACT_ARGMAX_LIMIT, ORACLE_ARGMAX, chooseTarget, targetVector } from "./oracles";
import { STEP_PROJECTIONS, STEP_REACHABLE, alternatingProjections, lineSearch, lineSearchToVertex, stepsToVertex } from "./steps";

/** Bytes of work space perturbBatch needs for K classes (the row context, context.ts). */
export function workBytes(K: i32): i32 {
  return rowWorkBytes(K);
}

/** First byte free for the TypeScript side's buffers. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

/** Grows memory to at least `bytes`; returns 0 when the engine refuses. */
export function ensureMemory(bytes: usize): i32 {
  const have = <usize>memory.size() << 16;
  if (bytes <= have) return 1;
  const pages = <i32>((bytes - have + 0xffff) >> 16);
  return memory.grow(pages) < 0 ? 0 : 1;
}

// The options of the next batches (configure: one perturber's options, set before each call by
// src/core/perturber.ts). Only the entry points read them, copying them into the row context.
const configured = changetype<Options>(memory.data(offsetof<Options>(), 16));

export function configure(
  oracleCode: i32, objectiveCode: i32, distanceCode: i32, stepCode: i32, eps: f64, seedValue: u32, exactLimit: i32, refine: i32,
): void {
  configured.oracle = oracleCode;
  configured.objective = objectiveCode;
  configured.distance = distanceCode;
  configured.step = stepCode;
  configured.seed = seedValue;
  configured.exactLimit = exactLimit < 1 ? 1 : exactLimit > MAX_EXACT_ARGMAX_LIMIT ? MAX_EXACT_ARGMAX_LIMIT : exactLimit;
  configured.refine = refine != 0;
  configured.epsilon = eps;
}

/** The row context for a batch of K classes in `work`, with the configured options. */
function startBatch(work: usize, K: i32): Row {
  const row = layoutRow(work, K);
  memory.copy(changetype<usize>(row.options), changetype<usize>(configured), offsetof<Options>());
  if (row.options.oracle == ORACLE_ARGMAX) fillSizeTables(row);
  return row;
}

@inline
function readEntry(ptr: usize, isF32: bool, i: usize): f64 {
  return isF32 ? <f64>load<f32>(ptr + (i << 2)) : load<f64>(ptr + (i << 3));
}

/**
 * Copies one row into f64 scratch, divided by its sum; false (and nothing divided) when it is not
 * a probability vector (validation.ts: finite, non-negative entries summing to 1 within 1e-3).
 */
function loadRow(ptr: usize, isF32: bool, row: i32, K: i32, out: usize): bool {
  const base = <usize>row * <usize>K;
  let sum = 0.0;
  let entries = true;
  for (let i = 0; i < K; i++) {
    const v = readEntry(ptr, isF32, base + <usize>i);
    entries = entries & isProbabilityEntry(v);
    store<f64>(out + (<usize>i << 3), v);
    sum += v;
  }
  if (!(entries && isProbabilitySum(sum))) return false;
  // Already a probability vector to rounding: dividing would change nothing that matters.
  if (abs<f64>(sum - 1.0) > SUM_ROUNDING) {
    const inv = 1.0 / sum;
    for (let i = 0; i < K; i++) store<f64>(out + (<usize>i << 3), load<f64>(out + (<usize>i << 3)) * inv);
  }
  return true;
}

@inline
function nextUp64(v: f64): f64 {
  return v >= 0 ? reinterpret<f64>(reinterpret<u64>(v) + 1) : -reinterpret<f64>(reinterpret<u64>(-v) - 1);
}

@inline
function nextUp32(v: f32): f32 {
  return v >= 0 ? reinterpret<f32>(reinterpret<u32>(v) + 1) : -reinterpret<f32>(reinterpret<u32>(-v) - 1);
}

/** Largest entry other than m. */
function largestOther(x: usize, K: i32, m: i32): f64 {
  let best = -Infinity;
  for (let i = 0; i < K; i++) {
    if (i == m) continue;
    const v = load<f64>(x + (<usize>i << 3));
    if (v > best) best = v;
  }
  return best;
}

/** Rounding can leave ỹ_m level with a rival; lift it by one ulp so m stays strictly on top. */
function keepTopStrict64(x: usize, K: i32, m: i32): void {
  const rival = largestOther(x, K, m);
  const at = x + (<usize>m << 3);
  if (load<f64>(at) <= rival) store<f64>(at, nextUp64(rival));
}

function keepTopStrict32(out: usize, K: i32, m: i32): void {
  let rival: f32 = -Infinity;
  for (let i = 0; i < K; i++) {
    if (i == m) continue;
    const v = load<f32>(out + (<usize>i << 2));
    if (v > rival) rival = v;
  }
  const at = out + (<usize>m << 2);
  if (load<f32>(at) <= rival) store<f32>(at, nextUp32(rival));
}

/**
 * Loads row r's y (and proxy p or Gram matrix M) and lets the objective precompute its inner
 * products; false when y or p is not a probability vector (M is validated before the batch).
 */
function prepareRow(row: Row, input: usize, isF32: bool, jacobianKind: i32, jacobian: usize, jacobianF32: i32, r: i32): bool {
  const K = row.K;
  const angular = row.options.objective == OBJECTIVE_ANGULAR;
  if (jacobianKind == JACOBIAN_PROBS) {
    const offset = <usize>r * <usize>K;
    const pF32 = jacobianF32 != 0;
    return prepareRowProbsAsLoaded(row, input + (offset << (isF32 ? 2 : 3)), isF32, jacobian + (offset << (pF32 ? 2 : 3)), pF32, angular) == ROW_PREPARED;
  }
  if (!loadRow(input, isF32, r, K, row.y)) return false;
  if (jacobianKind == JACOBIAN_GRAM) {
    row.M = jacobian + ((<usize>r * <usize>K * <usize>K) << 3);
    prepareRowGram(row, angular);
  } else {
    prepareRowIdentity(row, angular);
  }
  return true;
}

/** Candidates are scored at the point a budget eps lets the line search reach (step `reachable`, eps > 0). */
function setScoring(row: Row, reachable: bool, eps: f64): void {
  row.reachable = reachable;
  row.reachEpsilon = eps;
}

/** From the prepared row's target, the answer inside the ball of radius eps, written to output row rowOut. */
function stepRow(row: Row, input: usize, isF32: bool, output: usize, rowOut: usize, eps: f64): void {
  const K = row.K;
  const distance = row.options.distance;
  const step = row.options.step;
  if (eps <= 0) {
    // The only point of a zero ball is y itself: return the input exactly as given.
    if (isF32) memory.copy(output + (rowOut << 2), input + (rowOut << 2), <usize>K << 2);
    else memory.copy(output + (rowOut << 3), input + (rowOut << 3), <usize>K << 3);
    return;
  }
  const y = row.y;
  const x = row.answer;
  if (row.targetVertex >= 0 && step != STEP_PROJECTIONS && stepsToVertex(distance)) {
    // A vertex target's answer goes straight into a float64 output.
    if (isF32) {
      lineSearchToVertex(distance, y, row.targetVertex, x, K, eps, row.vertexL1);
      writeRow(x, K, output, rowOut, isF32);
    } else {
      lineSearchToVertex(distance, y, row.targetVertex, output + (rowOut << 3), K, eps, row.vertexL1);
    }
    return;
  }
  const target = targetVector(row);
  if (step == STEP_PROJECTIONS) alternatingProjections(distance, y, target, x, K, eps, row.scratch);
  else lineSearch(distance, y, target, x, K, eps);
  if (row.options.oracle == ORACLE_ARGMAX) {
    const m = row.topClass;
    // Projections may leave the argmax-preserving region; the line search point never does.
    if (step == STEP_PROJECTIONS && !(load<f64>(x + (<usize>m << 3)) > largestOther(x, K, m)))
      lineSearch(distance, y, target, x, K, eps);
    keepTopStrict64(x, K, m);
    writeRow(x, K, output, rowOut, isF32);
    if (isF32) keepTopStrict32(output + (rowOut << 2), K, m);
  } else {
    writeRow(x, K, output, rowOut, isF32);
  }
}

/**
 * Perturbs `rows` rows of K classes. input/output/targets: rows x K, f32 when ioF32 else f64 (targets = 0: not
 * wanted). jacobianKind: JACOBIAN_*; proxy probs rows x K (f32 when jacobianF32), gram rows x K x K f64.
 * rowOffset: how many rows this perturber processed before (the random oracle's counter). Gram
 * matrices must have passed validation; the probability rows are checked as they load. Returns 0,
 * or 1 when a row is not a probability vector: then the batch stopped there, and the caller asks
 * validation.ts which row and why.
 */
export function perturbBatch(
  input: usize, ioF32: i32, jacobianKind: i32, jacobian: usize, jacobianF32: i32,
  output: usize, targets: usize, rows: i32, K: i32, rowOffset: f64, work: usize,
): i32 {
  const isF32 = ioF32 != 0;
  const counter = <u64>rowOffset;
  const row = startBatch(work, K);
  const epsilon = row.options.epsilon;
  setScoring(row, row.options.step == STEP_REACHABLE && epsilon > 0, epsilon);
  for (let r = 0; r < rows; r++) {
    if (!prepareRow(row, input, isF32, jacobianKind, jacobian, jacobianF32, r)) return 1;
    chooseTarget(row, counter + <u64>r);
    const rowOut = <usize>r * <usize>K;
    stepRow(row, input, isF32, output, rowOut, epsilon);
    if (targets != 0) writeRow(targetVector(row), K, targets, rowOut, isF32);
  }
  return 0;
}

/**
 * perturbBatch for `epsilonCount` budgets at once (epsilons: f64 list; the configured epsilon is not
 * used): output holds epsilonCount blocks of rows x K, block e the answers for epsilons[e]. The
 * oracle runs once per row, since its target does not depend on ε, except with `reachable`
 * scoring, where it scores candidates at the point ε reaches and so runs once per row and ε.
 * Returns what perturbBatch returns.
 */
export function perturbSweep(
  input: usize, ioF32: i32, jacobianKind: i32, jacobian: usize, jacobianF32: i32,
  output: usize, rows: i32, K: i32, rowOffset: f64, work: usize, epsilons: usize, epsilonCount: i32,
): i32 {
  const isF32 = ioF32 != 0;
  const counter = <u64>rowOffset;
  const block = <usize>rows * <usize>K;
  const row = startBatch(work, K);
  const perEpsilonOracle = row.options.step == STEP_REACHABLE;
  setScoring(row, false, 0);
  for (let r = 0; r < rows; r++) {
    const rowOut = <usize>r * <usize>K;
    if (!perEpsilonOracle) {
      if (!prepareRow(row, input, isF32, jacobianKind, jacobian, jacobianF32, r)) return 1;
      chooseTarget(row, counter + <u64>r);
    }
    for (let e = 0; e < epsilonCount; e++) {
      const eps = load<f64>(epsilons + (<usize>e << 3));
      if (perEpsilonOracle) {
        // The same work perturbBatch does for this ε, so the answer is the same bit for bit.
        setScoring(row, eps > 0, eps);
        if (!prepareRow(row, input, isF32, jacobianKind, jacobian, jacobianF32, r)) return 1;
        chooseTarget(row, counter + <u64>r);
      }
      // stepRow reads the input at rowOut; shift the output by whole blocks instead.
      stepRow(row, input, isF32, output + ((<usize>e * block) << (isF32 ? 2 : 3)), rowOut, eps);
    }
  }
  return 0;
}

function writeRow(x: usize, K: i32, out: usize, rowOut: usize, isF32: bool): void {
  if (isF32) {
    for (let i = 0; i < K; i++) store<f32>(out + ((rowOut + <usize>i) << 2), <f32>load<f64>(x + (<usize>i << 3)));
  } else {
    memory.copy(out + (rowOut << 3), x, <usize>K << 3);
  }
}
