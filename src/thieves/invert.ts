// The invert thief (Kerckhoffs): it knows the defense's algorithm and public parameters, so it undoes
// each answer before training. It queries Knockoff's fixed sample, runs the public defense itself
// (simulateDefense) to check its guesses, and trains Knockoff's copy on the recovered vectors; rows it
// cannot undo keep the answer (its one-hot top-1 for a defense that preserves the top-1 class).
import * as v from "valibot";
import { rowArgmax } from "../models/argmax.js";
import { roleSeed } from "../models/random.js";
import type { InputBatch } from "../models/types.js";
import type { DefenseTraits } from "../defenses/defense.js";
import { describeDefense, publicParameters } from "../defenses/registry.js";
import {
  EXACT_SUBSETS_LIMIT, EXACT_TOLERANCE, argmaxTargets, entropy, createReverseSigmoidInverse, rowL1, searchPreimages, undoLineSearch, vertexTargets,
  type LineSearchDistance,
} from "./inverses.js";
import { knockoffParamsSchema, queryFixedSample, trainKnockoffCopy, type FixedSampleAnswers } from "./knockoff.js";
import { nonNegativeInteger, parseParams } from "./parameters.js";
import { requireKnowledge, simulateDefense, type SimulatedDefense } from "./simulate.js";
import type { BlackBox, DefenseKnowledge, ImageSet, StealOptions, StealResult, Thief, ThiefDeps } from "./thief.js";
import { argmaxOneHot, checkImageSet, checkStealOptions, gatherRows } from "./thief.js";

export const invertParamsSchema = v.strictObject({
  /** The thief's guess for the defender's proxy (defenses with one): the uniform softmax or a scratch model. */
  proxy: v.optional(v.picklist(["uniform", "scratch"]), "uniform"),
  /** Generic preimage search (defenses without a closed-form inverse): fixed-point rounds, then compass rounds. */
  searchIterations: nonNegativeInteger(60),
  compassRounds: nonNegativeInteger(30),
  ...v.omit(knockoffParamsSchema, ["labels"]).entries,
});
export type InvertParams = v.InferOutput<typeof invertParamsSchema>;

/** Answer rows per call of the simulated defense (all their candidates go in that one call). */
const ROWS_PER_CALL = 128;
/** The generic search counts a row as inverted when its y reproduces ỹ this closely (L1). */
export const SEARCH_TOLERANCE = 1e-3;

/** How the answers of one defense are undone. */
export type InversionPlan =
  | { readonly kind: "identity" }
  /** Randomised: no deterministic inverse; the answers are used as given. */
  | { readonly kind: "as-given" }
  /** MAD's line search; `verify`: choose among candidates by re-applying the defense (impossible when it is randomised). */
  | { readonly kind: "line-search"; readonly distance: LineSearchDistance; readonly epsilon: number; readonly targets: "vertices" | "argmax"; readonly verify: boolean }
  | { readonly kind: "reverse-sigmoid"; readonly beta: number; readonly gamma: number }
  | { readonly kind: "search" };

export function inversionPlan(knowledge: DefenseKnowledge, traits: DefenseTraits, numClasses: number): InversionPlan {
  const { name } = knowledge;
  // Defaults filled in, so partial knowledge means the defense's defaults, as it does for the defense.
  const params = publicParameters(name, knowledge.params);
  if (name === "none") return { kind: "identity" };
  if (name === "reverse-sigmoid") return { kind: "reverse-sigmoid", beta: Number(params.beta), gamma: Number(params.gamma) };
  // The reachable step scores candidates differently but lands by the same line search.
  if ((name === "mad" || name === "mad-argmax") && params.step !== "projections") {
    const targets = name === "mad-argmax" || params.oracle === "argmax" ? "argmax" : "vertices";
    if (targets === "vertices" || numClasses <= EXACT_SUBSETS_LIMIT) {
      const distance = (name === "mad-argmax" ? "l1" : params.distance) as LineSearchDistance;
      return { kind: "line-search", distance, epsilon: Number(params.epsilon), targets, verify: !traits.randomized };
    }
  }
  // No public inverse: a stateful defense's answer depends on queries the thief never saw, GRAD²'s and
  // Adaptive Misinformation's on the defender's own models (their weights are secrets, like keys).
  const privateModels = describeDefense(name).trainedModels.length > 0;
  return traits.randomized || traits.stateful || privateModels ? { kind: "as-given" } : { kind: "search" };
}

export interface Inversion {
  /** What the thief trains on: recovered y where `inverted`, the fallback elsewhere (B x K). */
  readonly targets: Float32Array;
  readonly inverted: Uint8Array;
  readonly diagnostics: Readonly<Record<string, number>>;
}

export interface InvertOptions {
  /** The queried images, for a simulated defense that runs a proxy on them. */
  readonly images?: Float32Array;
  readonly inputShape?: readonly number[];
  readonly searchIterations: number;
  readonly compassRounds: number;
}

/** The simulated defense on candidate rows `probs`, row i answering query owners[i] (whose image a scratch proxy sees). */
type Defend = (probs: Float32Array, owners: ArrayLike<number>) => Promise<Float32Array>;

/** What each inversion fills in: the rows it undoes get their y in `targets` and a 1 in `inverted`. */
interface Rows {
  readonly answers: Float32Array;
  readonly numClasses: number;
  readonly defend: Defend;
  readonly targets: Float32Array;
  readonly inverted: Uint8Array;
}

/**
 * Undoes `answers` (B x K) of the defense `defense` simulates, as far as it can. Diagnostics: inverted and
 * fallback row counts, plus per method: reached (answers on a line-search target), meanResidual (L1 from the
 * re-applied to the real answers: over inverted rows for the line search, over all rows for the search),
 * randomized (1: nothing was attempted).
 */
export async function invertAnswers(defense: SimulatedDefense, answers: Float32Array, numClasses: number, options: InvertOptions): Promise<Inversion> {
  const K = numClasses;
  const B = answers.length / K;
  const plan = inversionPlan(defense.knowledge, defense.traits, K);
  if (plan.kind === "identity") return { targets: answers, inverted: new Uint8Array(B).fill(1), diagnostics: { inverted: B, fallback: 0 } };
  if (plan.kind === "as-given") {
    return { targets: answers, inverted: new Uint8Array(B), diagnostics: { inverted: 0, fallback: B, ...(defense.traits.randomized ? { randomized: 1 } : { noInverse: 1 }) } };
  }

  const rowSize = options.inputShape ? options.inputShape.reduce((a, b) => a * b, 1) : 0;
  const defend: Defend = (probs, owners) => {
    const inputs: InputBatch | undefined =
      options.images && options.inputShape ? { data: gatherRows(options.images, rowSize, owners), batchSize: owners.length, inputShape: options.inputShape } : undefined;
    return defense.apply(probs, K, inputs);
  };
  const rows: Rows = { answers, numClasses: K, defend, targets: defense.traits.keepsTop1 ? argmaxOneHot(answers, K) : answers.slice(), inverted: new Uint8Array(B) };
  let diagnostics: Record<string, number>;
  if (plan.kind === "line-search") diagnostics = await undoLineSearchRows(rows, plan);
  else if (plan.kind === "reverse-sigmoid") diagnostics = await undoReverseSigmoidRows(rows, plan);
  else diagnostics = await searchRows(rows, options);
  const undone = count(rows.inverted);
  return { targets: rows.targets, inverted: rows.inverted, diagnostics: { inverted: undone, fallback: B - undone, ...diagnostics } };
}

function answerRow(rows: Rows, r: number): Float64Array {
  return Float64Array.from(rows.answers.subarray(r * rows.numClasses, (r + 1) * rows.numClasses));
}

async function undoLineSearchRows(rows: Rows, plan: Extract<InversionPlan, { kind: "line-search" }>): Promise<Record<string, number>> {
  const { answers, numClasses: K, targets, inverted } = rows;
  const B = answers.length / K;
  let reached = 0;
  let residualSum = 0;
  for (let from = 0; from < B; from += ROWS_PER_CALL) {
    const to = Math.min(B, from + ROWS_PER_CALL);
    const candidates: Float64Array[] = [];
    const owners: number[] = [];
    for (let r = from; r < to; r++) {
      const answer = answerRow(rows, r);
      const top = rowArgmax(answer, 0, K);
      const inverse =
        plan.targets === "argmax" ? undoLineSearch(answer, argmaxTargets(K, top), plan.epsilon, plan.distance, top) : undoLineSearch(answer, vertexTargets(K), plan.epsilon, plan.distance);
      if (inverse.reached) reached++;
      // Without re-applying the defense, only a row with a single valid candidate is undone.
      if (!plan.verify) {
        if (inverse.candidates.length === 1) {
          targets.set(inverse.candidates[0], r * K);
          inverted[r] = 1;
        }
        continue;
      }
      for (const c of inverse.candidates) {
        candidates.push(c);
        owners.push(r);
      }
    }
    if (candidates.length === 0) continue;
    const probs = new Float32Array(candidates.length * K);
    candidates.forEach((c, i) => probs.set(c, i * K));
    const reapplied = await rows.defend(probs, owners);
    const residuals = candidates.map((_, i) => rowL1(reapplied, i, answers, owners[i], K));
    const closest = new Float64Array(to - from).fill(Infinity);
    owners.forEach((r, i) => (closest[r - from] = Math.min(closest[r - from], residuals[i])));
    // Several candidates can reproduce ỹ exactly (the defense is many-to-one): prefer the most confident.
    const chosen = new Int32Array(to - from).fill(-1);
    owners.forEach((r, i) => {
      if (residuals[i] > closest[r - from] + EXACT_TOLERANCE) return;
      const current = chosen[r - from];
      if (current < 0 || entropy(candidates[i]) < entropy(candidates[current])) chosen[r - from] = i;
    });
    chosen.forEach((i, offset) => {
      if (i < 0) return;
      targets.set(probs.subarray(i * K, (i + 1) * K), (from + offset) * K);
      inverted[from + offset] = 1;
      residualSum += closest[offset];
    });
  }
  return plan.verify ? { reached, meanResidual: residualSum / Math.max(1, count(inverted)) } : { reached };
}

async function undoReverseSigmoidRows(rows: Rows, plan: Extract<InversionPlan, { kind: "reverse-sigmoid" }>): Promise<Record<string, number>> {
  const { answers, numClasses: K, targets, inverted } = rows;
  const invert = createReverseSigmoidInverse(plan.beta, plan.gamma);
  const recovered: number[] = [];
  const probs = new Float32Array(answers.length);
  for (let r = 0; r < answers.length / K; r++) {
    const y = invert(answerRow(rows, r));
    if (!y) continue;
    probs.set(y, recovered.length * K);
    recovered.push(r);
  }
  // The defense itself has the last word on each preimage (inverses.ts mirrors its formula).
  for (let from = 0; from < recovered.length; from += ROWS_PER_CALL) {
    const owners = recovered.slice(from, from + ROWS_PER_CALL);
    const chunk = probs.subarray(from * K, (from + owners.length) * K);
    const reapplied = await rows.defend(chunk, owners);
    owners.forEach((r, i) => {
      if (rowL1(reapplied, i, answers, r, K) >= EXACT_TOLERANCE) return;
      targets.set(chunk.subarray(i * K, (i + 1) * K), r * K);
      inverted[r] = 1;
    });
  }
  return {};
}

async function searchRows(rows: Rows, options: InvertOptions): Promise<Record<string, number>> {
  const { answers, numClasses: K, targets, inverted } = rows;
  const B = answers.length / K;
  const { preimages, residuals } = await searchPreimages(answers, K, rows.defend, {
    fixedPointRounds: options.searchIterations,
    compassRounds: options.compassRounds,
    tolerance: SEARCH_TOLERANCE,
    rowsPerBatch: ROWS_PER_CALL,
  });
  for (let r = 0; r < B; r++) {
    if (residuals[r] >= SEARCH_TOLERANCE) continue;
    targets.set(preimages.subarray(r * K, (r + 1) * K), r * K);
    inverted[r] = 1;
  }
  return { meanResidual: residuals.reduce((a, b) => a + b, 0) / Math.max(1, B) };
}

function count(flags: Uint8Array): number {
  return flags.reduce((n, f) => n + f, 0);
}

export class InvertThief implements Thief {
  readonly name = "invert";
  readonly params: Readonly<InvertParams>;

  constructor(
    params: Partial<InvertParams> | Record<string, unknown>,
    private readonly deps: ThiefDeps,
  ) {
    this.params = parseParams(this.name, invertParamsSchema, params);
  }

  async steal(blackBox: BlackBox, options: StealOptions): Promise<StealResult> {
    const started = performance.now();
    checkStealOptions(this.name, options);
    const knowledge = requireKnowledge(this.name, options.defense);
    const pool: ImageSet = checkImageSet(this.name, "pool", this.deps.pool, blackBox);
    const p = this.params;
    const K = blackBox.numClasses;

    // Built before querying, so a defense the thief cannot simulate costs no queries.
    const simulated = simulateDefense(this.name, knowledge, this.deps, { seed: roleSeed(options.seed, "simulation"), proxy: p.proxy });
    let asked: FixedSampleAnswers;
    let inversion: Inversion;
    try {
      asked = await queryFixedSample(this.name, blackBox, pool, options, p.queryBatchSize);
      inversion = await invertAnswers(simulated, asked.answers, K, {
        images: asked.images, inputShape: pool.inputShape, searchIterations: p.searchIterations, compassRounds: p.compassRounds,
      });
    } finally {
      simulated.dispose();
    }

    const { images, answers, count, queriesUsed } = asked;
    const transferSet = { images, answers, targets: inversion.targets, count, inputShape: pool.inputShape, numClasses: K };
    const model = await trainKnockoffCopy(this.deps, transferSet, p, options, queriesUsed);
    return {
      model,
      queriesUsed,
      transferSet,
      rounds: 0,
      seconds: (performance.now() - started) / 1000,
      diagnostics: inversion.diagnostics,
    };
  }
}

export function createInvert(params: Record<string, unknown>, deps: ThiefDeps): InvertThief {
  return new InvertThief(params, deps);
}
