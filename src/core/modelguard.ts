// ModelGuard-W (Tang et al. 2024) on the WASM core (assembly/modelguard.ts): per row, the answer within an
// L1 ball of radius ε around y that maximises the cross-entropy −Σ ỹ_k·log(y_k + 1e-6) while keeping the
// top-1 class ahead by `margin`. Exact (closed-form greedy + golden-section search); see docs/DEFENSES.md.
import { CoreInputError } from "./errors.js";
import { FIELD_CODES, PROBLEM, type CoreExports } from "./exports.js";
import type { Core } from "./loader.js";
import { checkShapes, throwValidationProblem } from "./validation.js";

interface ModelGuardExports extends CoreExports {
  modelguardWorkBytes(K: number): number;
  modelguardBatch(
    input: number, ioF32: number, output: number, status: number, rows: number, K: number, epsilon: number, margin: number, work: number,
  ): number;
}

export interface ModelGuardOptions {
  /** L1 budget ‖ỹ − y‖₁ <= epsilon, in [0, 2]. */
  epsilon: number;
  /** Lead the top-1 class keeps over every other class (default 1e-4, as in the paper's code). */
  margin?: number;
}

export interface ModelGuardResult<T extends Float32Array | Float64Array> {
  probs: T;
  /** Per row: 1 when no answer within the budget has the margin (top two classes tied to within about margin − ε/2); that row is y unchanged. */
  infeasible: Uint8Array;
}

export interface ModelGuardSolver {
  readonly options: Readonly<Required<ModelGuardOptions>>;
  solve<T extends Float32Array | Float64Array>(probs: T, numClasses: number): ModelGuardResult<T>;
}

/** Largest slice of a batch kept in WASM memory at once. */
const CHUNK_BYTES = 8 << 20;

function checkOptions(options: ModelGuardOptions): Required<ModelGuardOptions> {
  if (typeof options !== "object" || options === null) throw new CoreInputError("options", null, "must be an object");
  const { epsilon } = options;
  const margin = options.margin ?? 1e-4;
  if (typeof epsilon !== "number" || !Number.isFinite(epsilon) || epsilon < 0 || epsilon > 2)
    throw new CoreInputError("epsilon", null, `must be a number in [0, 2] (an L1 distance between distributions), got ${String(epsilon)}`);
  if (typeof margin !== "number" || !Number.isFinite(margin) || margin < 0 || margin >= 0.5)
    throw new CoreInputError("margin", null, `must be a number in [0, 0.5), got ${String(margin)}`);
  return { epsilon, margin };
}

export function createModelGuardSolver(core: Core, options: ModelGuardOptions): ModelGuardSolver {
  const checked = Object.freeze(checkOptions(options));
  const wasm = core.wasm.instance.exports as unknown as ModelGuardExports;
  if (typeof wasm.modelguardBatch !== "function")
    throw new Error("this WASM core has no modelguardBatch export: rebuild it (npm run build:wasm)");
  const arena = core.wasm.scratch;
  return {
    options: checked,
    solve<T extends Float32Array | Float64Array>(probs: T, K: number): ModelGuardResult<T> {
      const rows = checkShapes(probs, K, { kind: "identity" });
      const isF32 = probs instanceof Float32Array;
      const elementBytes = isF32 ? 4 : 8;
      const out = (isF32 ? new Float32Array(probs.length) : new Float64Array(probs.length)) as T;
      const infeasible = new Uint8Array(rows);
      if (rows === 0) return { probs: out, infeasible };
      const chunkRows = Math.max(1, Math.min(rows, Math.floor(CHUNK_BYTES / (K * 8))));
      const inputKey = isF32 ? "modelguard.input32" : "modelguard.input64";
      const outputKey = isF32 ? "modelguard.output32" : "modelguard.output64";
      arena.reserve(inputKey, chunkRows * K * elementBytes);
      arena.reserve(outputKey, chunkRows * K * elementBytes);
      arena.reserve("modelguard.status", chunkRows * 4);
      arena.reserve("modelguard.work", wasm.modelguardWorkBytes(K));
      // Validate the whole batch first, so a bad row late in a batch fails the call before any work.
      const stage = (start: number, n: number): number => {
        const ptr = arena.reserve(inputKey, chunkRows * K * elementBytes);
        const view = isF32 ? arena.f32(ptr, n * K) : arena.f64(ptr, n * K);
        view.set(probs.subarray(start * K, (start + n) * K));
        return ptr;
      };
      for (let start = 0; start < rows; start += chunkRows) {
        const n = Math.min(chunkRows, rows - start);
        const ptr = stage(start, n);
        const problem = wasm.validateProbabilityRows(ptr, isF32 ? 1 : 0, n, K, FIELD_CODES.probs);
        if (problem !== PROBLEM.none) throwValidationProblem(wasm, problem, start);
      }
      for (let start = 0; start < rows; start += chunkRows) {
        const n = Math.min(chunkRows, rows - start);
        const inputPtr = rows === n ? arena.reserve(inputKey, 0) : stage(start, n);
        const outputPtr = arena.reserve(outputKey, 0);
        const statusPtr = arena.reserve("modelguard.status", 0);
        const workPtr = arena.reserve("modelguard.work", 0);
        wasm.modelguardBatch(inputPtr, isF32 ? 1 : 0, outputPtr, statusPtr, n, K, checked.epsilon, checked.margin, workPtr);
        out.set(isF32 ? arena.f32(outputPtr, n * K) : arena.f64(outputPtr, n * K), start * K);
        const status = new Int32Array(core.wasm.memory.buffer, statusPtr, n);
        for (let r = 0; r < n; r++) infeasible[start + r] = status[r] === 0 ? 0 : 1;
      }
      return { probs: out, infeasible };
    },
  };
}
