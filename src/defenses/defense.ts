// One interface for every defense: MAD and the paper's baselines today, and the later ones
// (ModelGuard, GRAD², Adaptive Misinformation, PRADA; see docs/DEFENSES.md) without a rewrite.
import type { InputBatch } from "../models/types.js";

/** What a defense is given for one batch of queries. */
export interface DefenseBatch {
  /** The victim's probabilities y, B x K row-major. Never mutated by a defense. */
  readonly probs: Float32Array;
  readonly batchSize: number;
  readonly numClasses: number;
  /** The queries themselves, for defenses that declare `needsInput` (a proxy, a detector). */
  readonly inputs?: InputBatch;
  /** The proxy's softmax p (B x K), when the caller already has it (e.g. the `perturb` CLI). */
  readonly proxyProbs?: Float32Array;
  /** Who asked, for per-client defenses (PRADA-like detectors, budgets). */
  readonly clientId?: string;
}

/** What a defense answers for one batch. */
export interface DefenseResult {
  /** The answers ỹ, B x K row-major (on the simplex unless the defense documents otherwise). */
  readonly probs: Float32Array;
  /** Detectors only: per-row verdict that the client looks like a thief. */
  readonly flagged?: Uint8Array;
}

/** Static facts that let the service and the evaluation reason about a defense. */
export interface DefenseTraits {
  /** argmax ỹ = argmax y for every row. */
  readonly keepsTop1: boolean;
  /** Needs `batch.inputs` (a proxy or surrogate forward pass, a detector on raw x). */
  readonly needsInput: boolean;
  /** Holds state across queries (a codebook, per-client history). */
  readonly stateful: boolean;
  /** Uses seeded randomness: a repeated query may get a different answer. */
  readonly randomized: boolean;
  /** Outputs are on the probability simplex. */
  readonly onSimplex: boolean;
  /** Answers depend on a secret key of the deployment (absent: false). */
  readonly keyed?: boolean;
}

export interface Defense {
  /** Registry name, e.g. "mad", "reverse-sigmoid". */
  readonly name: string;
  /** The validated parameters it was built with (JSON-serialisable), for reports; never a key (traits.keyed
   * says there is one). Other secrets (seeds) are in: publish publicParameters(name, params). */
  readonly params: Readonly<Record<string, unknown>>;
  readonly traits: DefenseTraits;
  apply(batch: DefenseBatch): Promise<DefenseResult>;
  /**
   * Defenses with a budget `epsilon`: the results for several budgets from one pass over the batch,
   * result e being what `apply` gives, bit for bit, from this defense built with epsilon =
   * epsilons[e] (its own epsilon aside) and asked the same batches in the same order. MAD answers them with one oracle call per row (the core's
   * perturbSweep) and one proxy pass; the evaluation answers a grid's ε settings with it.
   */
  sweep?(batch: DefenseBatch, epsilons: readonly number[]): Promise<DefenseResult[]>;
  /** Forget state (stateful defenses); a no-op elsewhere. */
  reset?(): void;
  dispose?(): void;
}
