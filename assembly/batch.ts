// Batched entry points: a whole batch (B x K) per call over buffers in WASM memory. The TypeScript
// side lays the buffers out (input, Jacobian, output, targets, work) and passes pointers; nothing
// here allocates, so there is no per-query allocation and no garbage.
import {
  JACOBIAN_GRAM, JACOBIAN_PROBS, OBJECTIVE_ANGULAR,
  prepareRowGram, prepareRowIdentity, prepareRowProbs,
} from "./objectives";
import {
  ORACLE_ARGMAX, ORACLE_ARGMIN, ORACLE_EXTREME, setRowBuffers,
  argmaxOracle, argminOracle, extremeOracle, firstArgmax, randomOracle, setScoring, setSearchScratch,
} from "./oracles";
import { STEP_PROJECTIONS, STEP_REACHABLE, alternatingProjections, lineSearch } from "./steps";

/** f64 work arrays of length K a row needs (see workBytes). */
const WORK_ARRAYS: i32 = 14;

/** Bytes of work space perturbBatch needs for K classes. */
export function workBytes(K: i32): i32 {
  return WORK_ARRAYS * K * 8 + 64;
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

// Configuration of the next batches (set by configure: one perturber's options).
let oracle: i32 = ORACLE_EXTREME;
let objective: i32 = OBJECTIVE_ANGULAR;
let distance: i32 = 0;
let step: i32 = 0;
let epsilon: f64 = 0;
let seed: u32 = 0;

export function configure(oracleCode: i32, objectiveCode: i32, distanceCode: i32, stepCode: i32, eps: f64, seedValue: u32): void {
  oracle = oracleCode;
  objective = objectiveCode;
  distance = distanceCode;
  step = stepCode;
  epsilon = eps;
  seed = seedValue;
}

@inline
function readEntry(ptr: usize, isF32: bool, i: usize): f64 {
  return isF32 ? <f64>load<f32>(ptr + (i << 2)) : load<f64>(ptr + (i << 3));
}

/** Copies one row into f64 scratch, divided by its sum (validated rows sum to 1 within 1e-3). */
function loadRow(ptr: usize, isF32: bool, row: i32, K: i32, out: usize): void {
  const base = <usize>row * <usize>K;
  let sum = 0.0;
  for (let i = 0; i < K; i++) {
    const v = readEntry(ptr, isF32, base + <usize>i);
    store<f64>(out + (<usize>i << 3), v);
    sum += v;
  }
  // Already a probability vector to rounding: dividing would change nothing that matters.
  if (abs<f64>(sum - 1.0) > 1e-14) {
    const inv = 1.0 / sum;
    for (let i = 0; i < K; i++) store<f64>(out + (<usize>i << 3), load<f64>(out + (<usize>i << 3)) * inv);
  }
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

// Row buffers inside the work space (set by layoutWork; K f64 each unless noted).
let rowY: usize = 0;
let rowP: usize = 0;
let rowX: usize = 0;
let rowTarget: usize = 0;
let rowD: usize = 0;
let rowMy: usize = 0;
let rowRunning: usize = 0;
let rowCandidate: usize = 0;
let rowMember: usize = 0; // K bytes inside a K f64 slot
let rowScratch: usize = 0; // 4K f64 for projections and the sorted search

function layoutWork(work: usize, K: i32): void {
  const stride = <usize>K << 3;
  rowY = (work + 15) & ~(<usize>15);
  rowP = rowY + stride;
  rowX = rowP + stride;
  rowTarget = rowX + stride;
  rowD = rowTarget + stride;
  rowMy = rowD + stride;
  rowRunning = rowMy + stride;
  rowCandidate = rowRunning + stride;
  rowMember = rowCandidate + stride;
  rowScratch = rowMember + stride;
  setSearchScratch(rowScratch, K); // the oracle runs before the projections that use it
}

/** Loads row r's y (and proxy p) and lets the objective precompute its inner products. */
function prepareRow(input: usize, isF32: bool, jacobianKind: i32, jacobian: usize, jacobianF32: i32, r: i32, K: i32): void {
  const angular = objective == OBJECTIVE_ANGULAR;
  loadRow(input, isF32, r, K, rowY);
  if (jacobianKind == JACOBIAN_PROBS) {
    loadRow(jacobian, jacobianF32 != 0, r, K, rowP);
    setRowBuffers(rowY, rowD, 0, rowMy, rowRunning, rowMember, rowCandidate);
    prepareRowProbs(rowY, rowP, rowD, K, angular);
  } else if (jacobianKind == JACOBIAN_GRAM) {
    const M = jacobian + ((<usize>r * <usize>K * <usize>K) << 3);
    setRowBuffers(rowY, rowD, M, rowMy, rowRunning, rowMember, rowCandidate);
    prepareRowGram(rowY, M, rowMy, K, angular);
  } else {
    setRowBuffers(rowY, rowD, 0, rowMy, rowRunning, rowMember, rowCandidate);
    prepareRowIdentity(rowY, K, angular);
  }
}

/** The oracle's target y* for the prepared row; n: the row's number for the random oracle. */
function chooseTarget(K: i32, n: u64): void {
  if (oracle == ORACLE_EXTREME) extremeOracle(K, rowTarget);
  else if (oracle == ORACLE_ARGMAX) argmaxOracle(K, rowTarget);
  else if (oracle == ORACLE_ARGMIN) argminOracle(K, rowTarget);
  else randomOracle(K, rowTarget, seed, n);
}

/** From the prepared row's target, the answer inside the ball of radius eps, written to output row rowOut. */
function stepRow(input: usize, isF32: bool, output: usize, rowOut: usize, K: i32, eps: f64): void {
  if (eps <= 0) {
    // The only point of a zero ball is y itself: return the input exactly as given.
    if (isF32) memory.copy(output + (rowOut << 2), input + (rowOut << 2), <usize>K << 2);
    else memory.copy(output + (rowOut << 3), input + (rowOut << 3), <usize>K << 3);
    return;
  }
  if (step == STEP_PROJECTIONS) alternatingProjections(distance, rowY, rowTarget, rowX, K, eps, rowScratch);
  else lineSearch(distance, rowY, rowTarget, rowX, K, eps);
  if (oracle == ORACLE_ARGMAX) {
    const m = firstArgmax(rowY, K);
    // Projections may leave the argmax-preserving region; the line search point never does.
    if (step == STEP_PROJECTIONS && !(load<f64>(rowX + (<usize>m << 3)) > largestOther(rowX, K, m)))
      lineSearch(distance, rowY, rowTarget, rowX, K, eps);
    keepTopStrict64(rowX, K, m);
    writeRow(rowX, K, output, rowOut, isF32);
    if (isF32) keepTopStrict32(output + (rowOut << 2), K, m);
  } else {
    writeRow(rowX, K, output, rowOut, isF32);
  }
}

/**
 * Perturbs `rows` rows of K classes. input/output/targets: rows x K, f32 when ioF32 else f64 (targets = 0: not
 * wanted). jacobianKind: JACOBIAN_*; proxy probs rows x K (f32 when jacobianF32), gram rows x K x K f64.
 * rowOffset: how many rows this perturber processed before (the random oracle's counter). Inputs
 * must have passed validation.
 */
export function perturbBatch(
  input: usize, ioF32: i32, jacobianKind: i32, jacobian: usize, jacobianF32: i32,
  output: usize, targets: usize, rows: i32, K: i32, rowOffset: f64, work: usize,
): void {
  const isF32 = ioF32 != 0;
  const counter = <u64>rowOffset;
  layoutWork(work, K);
  setScoring(step == STEP_REACHABLE && epsilon > 0, distance, epsilon);
  for (let r = 0; r < rows; r++) {
    prepareRow(input, isF32, jacobianKind, jacobian, jacobianF32, r, K);
    chooseTarget(K, counter + <u64>r);
    const rowOut = <usize>r * <usize>K;
    stepRow(input, isF32, output, rowOut, K, epsilon);
    if (targets != 0) writeRow(rowTarget, K, targets, rowOut, isF32);
  }
}

/**
 * perturbBatch for `epsilonCount` budgets at once (epsilons: f64 list; the configured epsilon is not
 * used): output holds epsilonCount blocks of rows x K, block e the answers for epsilons[e]. The
 * oracle runs once per row, since its target does not depend on ε, except with `reachable`
 * scoring, where it scores candidates at the point ε reaches and so runs once per row and ε.
 */
export function perturbSweep(
  input: usize, ioF32: i32, jacobianKind: i32, jacobian: usize, jacobianF32: i32,
  output: usize, rows: i32, K: i32, rowOffset: f64, work: usize, epsilons: usize, epsilonCount: i32,
): void {
  const isF32 = ioF32 != 0;
  const counter = <u64>rowOffset;
  const block = <usize>rows * <usize>K;
  const perEpsilonOracle = step == STEP_REACHABLE;
  layoutWork(work, K);
  setScoring(false, distance, 0);
  for (let r = 0; r < rows; r++) {
    const rowOut = <usize>r * <usize>K;
    if (!perEpsilonOracle) {
      prepareRow(input, isF32, jacobianKind, jacobian, jacobianF32, r, K);
      chooseTarget(K, counter + <u64>r);
    }
    for (let e = 0; e < epsilonCount; e++) {
      const eps = load<f64>(epsilons + (<usize>e << 3));
      if (perEpsilonOracle) {
        // The same work perturbBatch does for this ε, so the answer is the same bit for bit.
        setScoring(eps > 0, distance, eps);
        prepareRow(input, isF32, jacobianKind, jacobian, jacobianF32, r, K);
        chooseTarget(K, counter + <u64>r);
      }
      // stepRow reads the input at rowOut; shift the output by whole blocks instead.
      stepRow(input, isF32, output + ((<usize>e * block) << (isF32 ? 2 : 3)), rowOut, K, eps);
    }
  }
}

function writeRow(x: usize, K: i32, out: usize, rowOut: usize, isF32: bool): void {
  if (isF32) {
    for (let i = 0; i < K; i++) store<f32>(out + ((rowOut + <usize>i) << 2), <f32>load<f64>(x + (<usize>i << 3)));
  } else {
    memory.copy(out + (rowOut << 3), x, <usize>K << 3);
  }
}
