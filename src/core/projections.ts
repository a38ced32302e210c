// Euclidean projections onto the simplex and the L1 / L2 balls, run by the WASM core (the same
// code the projections step uses). Each call copies its vectors into scratch memory.
import { CoreInputError } from "./errors.js";
import type { CoreExports } from "./exports.js";
import type { ScratchArena } from "./memory.js";

function checkVector(field: string, v: Float64Array, length?: number): void {
  if (!(v instanceof Float64Array)) throw new CoreInputError(field, null, "must be a Float64Array");
  if (v.length === 0) throw new CoreInputError(field, null, "must not be empty");
  if (length !== undefined && v.length !== length)
    throw new CoreInputError(field, null, `length ${v.length} does not match v (${length})`);
  for (let i = 0; i < v.length; i++)
    if (!Number.isFinite(v[i])) throw new CoreInputError(field, null, `entry ${i} is ${v[i]} (must be finite)`);
}

function checkRadius(radius: number): void {
  if (typeof radius !== "number" || !Number.isFinite(radius) || radius < 0)
    throw new CoreInputError("radius", null, `must be a finite number >= 0 (got ${String(radius)})`);
}

function checkBall(v: Float64Array, center: Float64Array, radius: number): void {
  checkVector("v", v);
  checkVector("center", center, v.length);
  checkRadius(radius);
}

export class Projections {
  constructor(
    private readonly wasm: CoreExports,
    private readonly arena: ScratchArena,
  ) {}

  /** argmin over {x >= 0, Σx = 1} of ‖x − v‖₂. */
  projectOntoSimplex(v: Float64Array): Float64Array {
    checkVector("v", v);
    return this.run([v], 2, (ptr, K) => this.wasm.projectOntoSimplex(ptr, ptr + 8 * K, K, 1, ptr + 16 * K));
  }

  /** argmin over {x : ‖x − center‖₁ <= radius} of ‖x − v‖₂. */
  projectOntoL1Ball(v: Float64Array, center: Float64Array, radius: number): Float64Array {
    checkBall(v, center, radius);
    return this.run([v, center], 2, (ptr, K) => this.wasm.projectOntoL1Ball(ptr, ptr + 8 * K, ptr + 16 * K, K, radius, ptr + 24 * K));
  }

  /** argmin over {x : ‖x − center‖₂ <= radius} of ‖x − v‖₂. */
  projectOntoL2Ball(v: Float64Array, center: Float64Array, radius: number): Float64Array {
    checkBall(v, center, radius);
    return this.run([v, center], 0, (ptr, K) => this.wasm.projectOntoL2Ball(ptr, ptr + 8 * K, ptr + 16 * K, K, radius));
  }

  /**
   * Scratch layout of one call, in K-float64 vectors: the inputs, then the output, then `workVectors`
   * of work space. Copies the inputs in, runs `call(ptr, K)` and returns a copy of the output.
   */
  private run(inputs: Float64Array[], workVectors: number, call: (ptr: number, K: number) => void): Float64Array {
    const K = inputs[0].length;
    const ptr = this.arena.reserve("core.projection", 8 * K * (inputs.length + 1 + workVectors));
    inputs.forEach((x, j) => this.arena.f64(ptr + 8 * K * j, K).set(x));
    call(ptr, K);
    return this.arena.f64(ptr + 8 * K * inputs.length, K).slice();
  }
}
