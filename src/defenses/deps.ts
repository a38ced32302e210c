// What a defense may be given besides its parameters: the WASM core (MAD, ModelGuard-W, random noise's
// ball projections) and a proxy of the thief's model (MAD). Typed by what the defenses use, so the real
// Core and Proxy fit, and so can test doubles.
import type { Core } from "../core/index.js";
import type { Jacobian } from "../core/types.js";
import type { InputBatch } from "../models/types.js";

/** The Jacobian modes of src/models' Proxy (same strings). */
export type JacobianMode = "last-layer" | "layers" | "identity";

/** The part of src/models' Proxy a defense uses. */
export interface DefenseProxy {
  probs(batch: InputBatch): Promise<Float32Array>;
  jacobian(batch: InputBatch, mode: JacobianMode, layers?: string[]): Promise<Jacobian>;
}

export interface DefenseDeps {
  readonly core?: Core;
  readonly proxy?: DefenseProxy;
}
