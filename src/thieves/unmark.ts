// The watermark-aware thief: Knockoff that first takes class-keyed soft marks (src/defenses/watermark.ts)
// back out of its answers. The scheme is public: a soft mark keeps the top-1 t and moves mass into one
// keyed class π(t), the same for every answer of class t. So among the answers whose top-1 is t, the
// most frequent runner-up is the thief's estimate π̂(t); wherever an answer of class t has π̂(t) as its
// runner-up, that entry is lowered to the mean of the other non-top entries and the row renormalised. The
// copy then trains on answers with the keyed confusion removed (and a little of the victim's own
// confusion with it). It needs no key and no knowledge of which answers were marked.
import { knockoffParamsSchema, queryFixedSample, trainKnockoffCopy, type KnockoffParams } from "./knockoff.js";
import { parseParams, ThiefConfigError } from "./parameters.js";
import type { BlackBox, ImageSet, StealOptions, StealResult, Thief, ThiefDeps } from "./thief.js";
import { checkImageSet, checkStealOptions } from "./thief.js";

/** The two largest entries' classes of row i (ties to the lower index). */
function topTwo(values: Float32Array, i: number, K: number): [number, number] {
  let first = 0;
  let second = -1;
  for (let k = 1; k < K; k++) {
    const v = values[i * K + k];
    if (v > values[i * K + first]) [first, second] = [k, first];
    else if (second < 0 || v > values[i * K + second]) second = k;
  }
  return [first, second];
}

/** The answers with each class's most frequent runner-up lowered to the other non-top entries' mean (see the header). */
export function removeClassMarks(answers: Float32Array, count: number, K: number): { cleaned: Float32Array; estimate: Int32Array; changed: number } {
  if (K < 3) return { cleaned: Float32Array.from(answers), estimate: new Int32Array(K).fill(-1), changed: 0 };
  const runnerUps = new Int32Array(K * K);
  const pairs = new Int32Array(2 * count);
  for (let i = 0; i < count; i++) {
    const [t, r] = topTwo(answers, i, K);
    pairs[2 * i] = t;
    pairs[2 * i + 1] = r;
    runnerUps[t * K + r]++;
  }
  const estimate = Int32Array.from({ length: K }, (_, t) => {
    let best = -1;
    for (let k = 0; k < K; k++) if (k !== t && runnerUps[t * K + k] > 0 && (best < 0 || runnerUps[t * K + k] > runnerUps[t * K + best])) best = k;
    return best;
  });
  const cleaned = Float32Array.from(answers);
  let changed = 0;
  for (let i = 0; i < count; i++) {
    const t = pairs[2 * i];
    const r = pairs[2 * i + 1];
    if (estimate[t] !== r) continue;
    let rest = 0;
    for (let k = 0; k < K; k++) if (k !== t && k !== r) rest += cleaned[i * K + k];
    cleaned[i * K + r] = rest / (K - 2);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += cleaned[i * K + k];
    for (let k = 0; k < K; k++) cleaned[i * K + k] /= sum;
    changed++;
  }
  return { cleaned, estimate, changed };
}

export class UnmarkThief implements Thief {
  readonly params: Readonly<KnockoffParams>;

  constructor(
    readonly name: string,
    params: Record<string, unknown>,
    private readonly deps: ThiefDeps,
  ) {
    if (params.labels !== undefined && params.labels !== "soft") throw new ThiefConfigError(`thief "${name}": parameter "labels" is fixed to "soft"`);
    this.params = parseParams(name, knockoffParamsSchema, { ...params, labels: "soft" });
  }

  async steal(blackBox: BlackBox, options: StealOptions): Promise<StealResult> {
    const started = performance.now();
    checkStealOptions(this.name, options);
    const pool: ImageSet = checkImageSet(this.name, "pool", this.deps.pool, blackBox);
    const K = blackBox.numClasses;
    const { images, answers, count, queriesUsed } = await queryFixedSample(this.name, blackBox, pool, options, this.params.queryBatchSize);
    const { cleaned, changed } = removeClassMarks(answers, count, K);
    const transferSet = { images, answers, targets: cleaned, count, inputShape: pool.inputShape, numClasses: K };
    const model = await trainKnockoffCopy(this.deps, transferSet, this.params, options, queriesUsed);
    return { model, queriesUsed, transferSet, rounds: 0, seconds: (performance.now() - started) / 1000, diagnostics: { cleanedShare: changed / Math.max(1, count) } };
  }
}

export function createUnmark(params: Record<string, unknown>, deps: ThiefDeps): Thief {
  return new UnmarkThief("unmark", params, deps);
}
