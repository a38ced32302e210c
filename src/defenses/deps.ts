// What a defense may be given besides its parameters: the WASM core (MAD, ModelGuard-W, random noise's
// ball projections), a proxy of the thief's model (MAD), and Adaptive Misinformation's misinformation model
// and out-of-distribution scorer. Typed by what the defenses use, so the real
// Core and Proxy fit, and so can test doubles.
import type { Core } from "../core/index.js";
import type { Jacobian } from "../core/types.js";
import type { InputBatch } from "../models/types.js";

/** The Jacobian modes of src/models' Proxy (same strings). */
export type JacobianMode = "last-layer" | "layers" | "identity";

/** The weight directions of src/models' Proxy.directionalLogProbDerivative (same strings): t = 𝟙 or t = θ. */
export type WeightDirection = "ones" | "theta";

/** The part of src/models' Proxy a defense uses. */
export interface DefenseProxy {
  probs(batch: InputBatch): Promise<Float32Array>;
  jacobian(batch: InputBatch, mode: JacobianMode, layers?: string[]): Promise<Jacobian>;
  /** GRAD²'s surrogate: ⟨∇_θ log p_k(x_b), t⟩ over all weights θ (B x K), `h` the relative finite-difference step. */
  directionalLogProbDerivative?(batch: InputBatch, direction: WeightDirection, h: number): Promise<Float32Array>;
  /** Frees what directionalLogProbDerivative built (weight-shifted model copies); rebuilt when next needed. */
  releaseDirectionalCopies?(): void;
}

/** A model beside the victim that a defense only runs forward: softmax probabilities, B x K (a src/models Proxy fits). */
export interface DefenseModel {
  probs(batch: InputBatch): Promise<Float32Array>;
}

export interface DefenseDeps {
  readonly core?: Core;
  readonly proxy?: DefenseProxy;
  /** Adaptive Misinformation's f^: m(x) = its softmax (e.g. new Proxy(model) of trainMisinformation() in src/models/misinformation.ts). */
  readonly misinformation?: DefenseModel;
  /** Adaptive Misinformation's out-of-distribution scorer: s(x) = its max softmax (an outlier-exposed model, trainOutlierExposed()). */
  readonly scorer?: DefenseModel;
}
