// A configured MAD perturber over the WASM core: copies a chunk of rows into WASM memory,
// validates it there, perturbs it in one call and copies the answers out.
import {
  DISTANCE_CODES, FIELD_CODES, JACOBIAN_CODES, OBJECTIVE_CODES, ORACLE_CODES, PROBLEM, STEP_CODES, type CoreExports,
} from "./exports.js";
import { PredictionPoisoningError } from "./errors.js";
import type { ScratchArena } from "./memory.js";
import type { Jacobian, PerturbOptions, Perturber } from "./types.js";
import { checkOutput, checkShapes, checkSweepEpsilons, normaliseOptions, throwValidationProblem } from "./validation.js";

/** Largest slice of a batch kept in WASM memory at once (bigger batches go through in chunks). */
const CHUNK_BYTES = 256 << 10;
const IDENTITY: Jacobian = { kind: "identity" };

type FloatArray = Float32Array | Float64Array;

export class WasmPerturber implements Perturber {
  readonly options: Readonly<Required<PerturbOptions>>;
  /** Rows processed so far: the `random` oracle's counter, so a batch equals its rows one by one. */
  private rowsSeen = 0;

  constructor(
    private readonly wasm: CoreExports,
    private readonly arena: ScratchArena,
    options: PerturbOptions,
  ) {
    this.options = Object.freeze(normaliseOptions(options));
  }

  perturb<T extends FloatArray>(probs: T, numClasses: number, jacobian: Jacobian = IDENTITY, out?: T): T {
    return this.run(probs, numClasses, jacobian, false, out).probs;
  }

  perturbWithTargets<T extends FloatArray>(probs: T, numClasses: number, jacobian: Jacobian = IDENTITY): { probs: T; targets: T } {
    const result = this.run(probs, numClasses, jacobian, true);
    return { probs: result.probs, targets: result.targets as T };
  }

  /** One answer batch per budget from one oracle call per row (see Perturber.perturbSweep, docs/CORE.md). */
  perturbSweep<T extends FloatArray>(probs: T, numClasses: number, epsilons: readonly number[], jacobian: Jacobian = IDENTITY): T[] {
    const rows = checkShapes(probs, numClasses, jacobian);
    const list = checkSweepEpsilons(epsilons, this.options.distance);
    const K = numClasses;
    const isF32 = probs instanceof Float32Array;
    const outs = Array.from(list, () => (isF32 ? new Float32Array(probs.length) : new Float64Array(probs.length)) as T);
    if (rows === 0) return outs;
    const key = isF32 ? "core.sweep32" : "core.sweep64";
    const epsilonsPtr = this.arena.reserve("core.epsilons", list.length * 8);
    this.arena.regionF64("core.epsilons").set(list);
    // The chunk holds every budget's answers: epsilons.length blocks of n x K.
    this.chunks(probs, K, jacobian, list.length - 1, (chunkRows) => this.arena.reserve(key, list.length * chunkRows * K * (isF32 ? 4 : 8)), (c) => {
      const refused = this.wasm.perturbSweep(
        c.inputPtr, isF32 ? 1 : 0, JACOBIAN_CODES[jacobian.kind], c.jacobianPtr, c.proxyF32 ? 1 : 0,
        c.outputPtr, c.n, K, this.rowsSeen + c.start, c.workPtr, epsilonsPtr, list.length,
      );
      if (refused) return refused;
      const view = isF32 ? this.arena.regionF32(key) : this.arena.regionF64(key);
      for (let e = 0; e < list.length; e++) outs[e].set(view.subarray(e * c.n * K, (e + 1) * c.n * K), c.start * K);
      return 0;
    });
    this.rowsSeen += rows;
    return outs;
  }

  private run<T extends FloatArray>(probs: T, K: number, jacobian: Jacobian, wantTargets: boolean, given?: T): { probs: T; targets: T | null } {
    const rows = checkShapes(probs, K, jacobian);
    if (given !== undefined) checkOutput(given, probs, jacobian);
    const isF32 = probs instanceof Float32Array;
    const make = (n: number) => (isF32 ? new Float32Array(n) : new Float64Array(n)) as T;
    const out = given ?? make(probs.length);
    const targets = wantTargets ? make(probs.length) : null;
    if (rows === 0) return { probs: out, targets };

    const elementBytes = isF32 ? 4 : 8;
    const outputKey = isF32 ? "core.output32" : "core.output64";
    const targetsKey = isF32 ? "core.targets32" : "core.targets64";
    let targetsPtr = 0;
    this.chunks(probs, K, jacobian, 0, (chunkRows) => {
      if (wantTargets) targetsPtr = this.arena.reserve(targetsKey, chunkRows * K * elementBytes);
      return this.arena.reserve(outputKey, chunkRows * K * elementBytes);
    }, (c) => {
      const refused = this.wasm.perturbBatch(
        c.inputPtr, isF32 ? 1 : 0, JACOBIAN_CODES[jacobian.kind], c.jacobianPtr, c.proxyF32 ? 1 : 0,
        c.outputPtr, targetsPtr, c.n, K, this.rowsSeen + c.start, c.workPtr,
      );
      if (refused) return refused;
      this.unstage(out, outputKey, c.start * K, c.n * K);
      if (targets) this.unstage(targets, targetsKey, c.start * K, c.n * K);
      return 0;
    });
    this.rowsSeen += rows;
    return { probs: out, targets };
  }

  /**
   * The staging both entry points share: reserves the regions (reserveOutput: the caller's, for
   * chunkRows rows), validates Gram matrices, configures the core and calls `perturbChunk` once per
   * chunk with the rows staged; a chunk it answers with nonzero (the core refused a row) becomes
   * the first invalid row's error. extraOutputs: answer blocks per row beyond the first (sizes chunks).
   */
  private chunks(
    probs: FloatArray, K: number, jacobian: Jacobian, extraOutputs: number,
    reserveOutput: (chunkRows: number) => number,
    perturbChunk: (chunk: { start: number; n: number; inputPtr: number; jacobianPtr: number; proxyF32: boolean; outputPtr: number; workPtr: number }) => number,
  ): void {
    const { wasm, arena } = this;
    const o = this.options;
    const rows = probs.length / K;
    const isF32 = probs instanceof Float32Array;
    const elementBytes = isF32 ? 4 : 8;
    const perRowBytes = K * (jacobian.kind === "gram" ? 8 * K : 8) + extraOutputs * K * elementBytes;
    const chunkRows = Math.max(1, Math.min(rows, Math.floor(CHUNK_BYTES / perRowBytes)));
    const inputPtr = arena.reserve(isF32 ? "core.input32" : "core.input64", chunkRows * K * elementBytes);
    const outputPtr = reserveOutput(chunkRows);
    const workPtr = arena.reserve("core.work", wasm.workBytes(K));
    const proxy = jacobian.kind === "probs" ? jacobian.proxyProbs : null;
    const proxyF32 = proxy instanceof Float32Array;
    let jacobianPtr = 0;
    if (proxy) jacobianPtr = arena.reserve(proxyF32 ? "core.proxy32" : "core.proxy64", chunkRows * K * (proxyF32 ? 4 : 8));
    if (jacobian.kind === "gram") jacobianPtr = arena.reserve("core.gram", chunkRows * K * K * 8);

    // Gram matrices (and, so the first problem is found in the same order, their rows) are
    // validated before any work; otherwise the probability rows are checked as the core loads
    // them, and a batch that stops at a bad row is described by validateInputs.
    if (jacobian.kind === "gram") this.validateInputs(probs, K, jacobian, chunkRows, inputPtr, jacobianPtr);

    wasm.configure(
      ORACLE_CODES[o.oracle], OBJECTIVE_CODES[o.objective], DISTANCE_CODES[o.distance], STEP_CODES[o.step], o.epsilon, o.seed,
      o.exactArgmaxLimit, o.argmaxRefine ? 1 : 0,
    );
    const gramStaged = jacobian.kind === "gram" && rows <= chunkRows;
    for (let start = 0; start < rows; start += chunkRows) {
      const n = Math.min(chunkRows, rows - start);
      this.stage(probs, isF32 ? "core.input32" : "core.input64", start * K, n * K);
      if (proxy) this.stage(proxy, proxyF32 ? "core.proxy32" : "core.proxy64", start * K, n * K);
      else if (jacobian.kind === "gram" && !gramStaged) this.stage(jacobian.gram, "core.gram", start * K * K, n * K * K);
      if (perturbChunk({ start, n, inputPtr, jacobianPtr, proxyF32, outputPtr, workPtr }) !== 0) {
        this.validateInputs(probs, K, jacobian, chunkRows, inputPtr, jacobianPtr);
        throw new PredictionPoisoningError("internal", `the core refused a row of probs or proxyProbs that validation accepts (rows ${start}..${start + n - 1})`);
      }
    }
  }

  /**
   * Throws the first problem of the batch: chunk by chunk, the probs rows, then the proxy's rows
   * or the Gram matrices; returns when there is none.
   */
  private validateInputs(probs: FloatArray, K: number, jacobian: Jacobian, chunkRows: number, inputPtr: number, jacobianPtr: number): void {
    const { wasm } = this;
    const rows = probs.length / K;
    const isF32 = probs instanceof Float32Array;
    for (let start = 0; start < rows; start += chunkRows) {
      const n = Math.min(chunkRows, rows - start);
      this.stage(probs, isF32 ? "core.input32" : "core.input64", start * K, n * K);
      let problem = wasm.validateProbabilityRows(inputPtr, isF32 ? 1 : 0, n, K, FIELD_CODES.probs);
      if (problem === PROBLEM.none && jacobian.kind === "probs") {
        const proxyF32 = jacobian.proxyProbs instanceof Float32Array;
        this.stage(jacobian.proxyProbs, proxyF32 ? "core.proxy32" : "core.proxy64", start * K, n * K);
        problem = wasm.validateProbabilityRows(jacobianPtr, proxyF32 ? 1 : 0, n, K, FIELD_CODES.proxyProbs);
      } else if (problem === PROBLEM.none && jacobian.kind === "gram") {
        this.stage(jacobian.gram, "core.gram", start * K * K, n * K * K);
        problem = wasm.validateGramMatrices(jacobianPtr, n, K);
      }
      if (problem !== PROBLEM.none) throwValidationProblem(wasm, problem, start);
    }
  }

  /** Copies source[from, from + length) to the start of region `key`. */
  private stage(source: FloatArray, key: string, from: number, length: number): void {
    const view = source instanceof Float32Array ? this.arena.regionF32(key) : this.arena.regionF64(key);
    view.set(from === 0 && length === source.length ? source : source.subarray(from, from + length));
  }

  /** Copies the first `length` entries of region `key` to target[from...]. */
  private unstage(target: FloatArray, key: string, from: number, length: number): void {
    const view = target instanceof Float32Array ? this.arena.regionF32(key) : this.arena.regionF64(key);
    target.set(view.length === length ? view : view.subarray(0, length), from);
  }
}

