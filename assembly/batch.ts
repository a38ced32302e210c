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
  const stride = <usize>K << 3;
  const base = (work + 15) & ~(<usize>15);
  const y = base;
  const p = y + stride;
  const x = p + stride;
  const target = x + stride;
  const d = target + stride;
  const My = d + stride;
  const running = My + stride;
  const candidate = running + stride;
  const member = candidate + stride; // K bytes inside a K f64 slot
  const scratch = member + stride; // 4K f64 for projections
  const isF32 = ioF32 != 0;
  const angular = objective == OBJECTIVE_ANGULAR;
  const counter = <u64>rowOffset;
  setScoring(step == STEP_REACHABLE && epsilon > 0, distance, epsilon);
  setSearchScratch(scratch, K); // the oracle runs before the projections that use it

  for (let r = 0; r < rows; r++) {
    loadRow(input, isF32, r, K, y);
    if (jacobianKind == JACOBIAN_PROBS) {
      loadRow(jacobian, jacobianF32 != 0, r, K, p);
      setRowBuffers(y, d, 0, My, running, member, candidate);
      prepareRowProbs(y, p, d, K, angular);
    } else if (jacobianKind == JACOBIAN_GRAM) {
      const M = jacobian + ((<usize>r * <usize>K * <usize>K) << 3);
      setRowBuffers(y, d, M, My, running, member, candidate);
      prepareRowGram(y, M, My, K, angular);
    } else {
      setRowBuffers(y, d, 0, My, running, member, candidate);
      prepareRowIdentity(y, K, angular);
    }

    if (oracle == ORACLE_EXTREME) extremeOracle(K, target);
    else if (oracle == ORACLE_ARGMAX) argmaxOracle(K, target);
    else if (oracle == ORACLE_ARGMIN) argminOracle(K, target);
    else randomOracle(K, target, seed, counter + <u64>r);

    const rowOut = <usize>r * <usize>K;
    if (epsilon <= 0) {
      // The only point of a zero ball is y itself: return the input exactly as given.
      if (isF32) memory.copy(output + (rowOut << 2), input + (rowOut << 2), <usize>K << 2);
      else memory.copy(output + (rowOut << 3), input + (rowOut << 3), <usize>K << 3);
    } else {
      if (step == STEP_PROJECTIONS) alternatingProjections(distance, y, target, x, K, epsilon, scratch);
      else lineSearch(distance, y, target, x, K, epsilon);
      if (oracle == ORACLE_ARGMAX) {
        const m = firstArgmax(y, K);
        // Projections may leave the argmax-preserving region; the line search point never does.
        if (step == STEP_PROJECTIONS && !(load<f64>(x + (<usize>m << 3)) > largestOther(x, K, m)))
          lineSearch(distance, y, target, x, K, epsilon);
        keepTopStrict64(x, K, m);
        writeRow(x, K, output, rowOut, isF32);
        if (isF32) keepTopStrict32(output + (rowOut << 2), K, m);
      } else {
        writeRow(x, K, output, rowOut, isF32);
      }
    }
    if (targets != 0) writeRow(target, K, targets, rowOut, isF32);
  }
}

function writeRow(x: usize, K: i32, out: usize, rowOut: usize, isF32: bool): void {
  if (isF32) {
    for (let i = 0; i < K; i++) store<f32>(out + ((rowOut + <usize>i) << 2), <f32>load<f64>(x + (<usize>i << 3)));
  } else {
    memory.copy(out + (rowOut << 3), x, <usize>K << 3);
  }
}
