// Ownership verification for DAWN watermarks (edge-safe; the CLI's suspects are in src/node/watermark-verify.ts): query a suspect model on the logged watermarked inputs and
// test whether it returns the watermark labels more often than a model independent of our answers could.
//
// The null. Under H0 the suspect does not depend on the watermarked answers (it was not trained on them),
// so its label o for a logged input is independent of the key, and so is the victim's top-1 c. The
// watermark label w of that input is the key's HMAC choice, uniform over the K − 1 classes other than c, so
//   P[o = w] = [o ≠ c] / (K − 1)
// whatever the suspect is, however accurate or however correlated its mistakes are with the victim's. Across
// distinct inputs the HMAC outputs are independent, so given the suspect's labels the number of matches is
// exactly Binomial(n', 1/(K − 1)), n' = the queries on which the suspect does not answer c (a match is
// impossible where it does). The p-value P[Binomial(n', 1/(K − 1)) ≥ matches] is valid without any model of
// the suspect; without the victim's labels in the log, n' = n (all queries), which is conservative.
// Repeated inputs are counted once.
//
// Soft marks (the answer's top-1 t kept, keyed mass moved into w ≠ t): the suspect's most likely class other
// than t is w with probability exactly 1 / (K − 1) under H0, by the same argument (w is the key's uniform
// choice among the K − 1 classes other than t, independent of the suspect), so the soft matches are
// Binomial(n_soft, 1 / (K − 1)) too (soft marks keyed per input). They need the suspect's probabilities.
//
// Soft marks keyed per class (w = π(t), one keyed class per top-1 class t): the statistic is the same count
// S = Σ_i [r_i = π(t_i)], r_i the suspect's most likely class other than t_i. Under H0 the π(c) are
// independent and uniform over the K − 1 classes other than c (the key's HMAC), independent of the suspect,
// so given the suspect's answers S = Σ_c n_c[π(c)] with n_c[k] = #{i : t_i = c, r_i = k}: a sum of
// independent terms, each uniform over {n_c[k] : k ≠ c}. Its exact tail P[S ≥ s] is a convolution over the
// classes present (computed in log space), again valid without any model of the suspect.
//
// Label marks keyed per class (w = π(c), the same map as the soft marks'): the per-input Binomial does not
// apply (an independent model's confusions are structured); instead the count of logged inputs on which
// the suspect's top-1 is π(c) gets the same exact class-keyed tail, and the entries join the soft marks'
// runner-up test (a copy trained on 1 % of flipped labels may learn the confusion without reproducing it
// as its top-1).
//
// The tests that ran are combined by Bonferroni: p = min(1, m·min_j p_j) for m tests, valid whatever their
// dependence.
import type { InputBatch } from "../models/types.js";
import { logBinomialTail } from "./binomial.js";
import type { SoftKeying, WatermarkKind } from "./watermark.js";

/** One logged watermarked answer: the input and the watermark label it was given. */
export interface WatermarkEntry {
  /** Absent: "label" (logs written before soft marks). */
  readonly kind?: WatermarkKind;
  /** Soft marks: how `label` was keyed (absent: "input"). */
  readonly keying?: SoftKeying;
  readonly input: Float32Array;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly label: number;
  readonly victimLabel?: number;
  readonly victimProb?: number;
}

/** What a suspect answers for a batch of inputs: its labels and, when it gives them, its probabilities (row-major). */
export interface SuspectAnswers {
  readonly labels: Int32Array;
  readonly probs?: Float32Array;
}

export type Suspect = (batch: InputBatch) => Promise<SuspectAnswers>;

export interface VerifyOptions {
  readonly maxQueries?: number;
  /** Verdict "stolen" when the p-value is at most this. Default 1e-6. */
  readonly alpha?: number;
  readonly batchSize?: number;
}

/** One of the two tests: label marks (the suspect's top-1) or soft marks (its most likely class other than t). */
export interface MarkTest {
  readonly queries: number;
  readonly matches: number;
  /** Queries on which a match was possible (label marks: the suspect did not answer the victim's top-1). */
  readonly informative: number;
  readonly pValue: number;
  readonly log10PValue: number;
}

export interface VerifyResult {
  /** Both tests together: verification queries, matches, and the combined p-value. */
  readonly queries: number;
  readonly matches: number;
  readonly pValue: number;
  readonly log10PValue: number;
  /** The per-query null rate used: 1 / (K − 1). */
  readonly nullRate: number;
  /** Queries on which a match was possible, over both tests. */
  readonly informative: number;
  readonly alpha: number;
  readonly verdict: "stolen" | "no evidence";
  readonly label: MarkTest | null;
  /** Soft marks keyed per input. */
  readonly softInput: MarkTest | null;
  /** The class map in the suspect's runner-up: soft marks keyed per class, and label marks keyed per class. */
  readonly softClass: MarkTest | null;
  /** Label marks keyed per class: the suspect's top-1 on the logged inputs. */
  readonly labelClass: MarkTest | null;
  /** Why soft marks in the log were not tested (the suspect gave labels only). */
  readonly softSkipped?: string;
  /** How often the suspect answered the victim's own top-1 on label marks (a diagnostic: a good model does either way). */
  readonly victimAgreement?: number;
  readonly duplicates: number;
}

export const DEFAULT_MAX_QUERIES = 200;
export const DEFAULT_ALPHA = 1e-6;

const kindOf = (e: WatermarkEntry): WatermarkKind => e.kind ?? "label";

/** Distinct entries (by input bytes), in log order; all of one shape and class count. */
export function distinctEntries(entries: readonly WatermarkEntry[]): { entries: WatermarkEntry[]; duplicates: number } {
  if (entries.length === 0) throw new Error("the watermark log has no entries");
  const first = entries[0];
  const seen = new Set<string>();
  const out: WatermarkEntry[] = [];
  for (const [i, e] of entries.entries()) {
    if (e.inputShape.join("x") !== first.inputShape.join("x") || e.numClasses !== first.numClasses) {
      throw new Error(`watermark log entry ${i}: shape [${e.inputShape}] with ${e.numClasses} classes, the first is [${first.inputShape}] with ${first.numClasses}`);
    }
    if (kindOf(e) === "soft" && e.victimLabel === undefined) throw new Error(`watermark log entry ${i}: a soft mark without the top-1 it kept (victimLabel)`);
    const id = byteKey(e.input);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(e);
  }
  return { entries: out, duplicates: entries.length - out.length };
}

function markTest(queries: number, matches: number, informative: number, nullRate: number): MarkTest {
  const logP = logBinomialTail(matches, informative, nullRate);
  return { queries, matches, informative, pValue: Math.exp(logP), log10PValue: logP / Math.LN10 };
}

const logAdd = (a: number, b: number) => (a === -Infinity ? b : b === -Infinity ? a : Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b))));

/**
 * ln P[S ≥ observed] for S = Σ_c n_c[π(c)], π(c) independent and uniform over the K − 1 classes other than c
 * (see the header). `counts` maps each class present to its row n_c (length K; n_c[c] unused).
 */
export function logClassKeyedTail(counts: ReadonlyMap<number, ArrayLike<number>>, numClasses: number, observed: number): number {
  let dist = [0]; // ln P[S = s] for s = 0..max so far
  const logQ = -Math.log(numClasses - 1);
  for (const [c, row] of counts) {
    const values = new Map<number, number>(); // value n_c[k] → how many k ≠ c take it
    for (let k = 0; k < numClasses; k++) if (k !== c) values.set(row[k], (values.get(row[k]) ?? 0) + 1);
    const top = Math.max(...values.keys());
    const next = new Array<number>(dist.length + top).fill(-Infinity);
    for (const [value, ways] of values) {
      const lw = Math.log(ways) + logQ;
      for (let s = 0; s < dist.length; s++) if (dist[s] !== -Infinity) next[s + value] = logAdd(next[s + value], dist[s] + lw);
    }
    dist = next;
  }
  let tail = -Infinity;
  for (let s = Math.max(0, observed); s < dist.length; s++) tail = logAdd(tail, dist[s]);
  return Math.min(0, tail);
}

/** The most likely class of row i other than `excluded` (the first on ties). */
function topOther(probs: Float32Array, i: number, K: number, excluded: number): number {
  let best = -1;
  for (let k = 0; k < K; k++) if (k !== excluded && (best < 0 || probs[i * K + k] > probs[i * K + best])) best = k;
  return best;
}

export async function verifyWatermark(logEntries: readonly WatermarkEntry[], suspect: Suspect, options: VerifyOptions = {}): Promise<VerifyResult> {
  const { entries: all, duplicates } = distinctEntries(logEntries);
  const maxQueries = options.maxQueries ?? DEFAULT_MAX_QUERIES;
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const batchSize = options.batchSize ?? 64;
  // Label marks first (rarer, and the only ones a labels-only thief learns), soft marks fill the rest.
  const labelled = all.filter((e) => kindOf(e) === "label");
  const soft = all.filter((e) => kindOf(e) === "soft");
  const byClass = (e: WatermarkEntry) => (e.keying ?? "input") === "class";
  const entries = [...labelled, ...soft].slice(0, maxQueries);
  const K = entries[0].numClasses;
  if (K < 2) throw new Error(`the watermark log says ${K} classes`);
  const inputShape = entries[0].inputShape;
  const size = inputShape.reduce((a, b) => a * b, 1);
  const counts = {
    label: { queries: 0, matches: 0, withVictim: 0, agree: 0 }, labelClass: { queries: 0, matches: 0 },
    softInput: { queries: 0, matches: 0 }, softClass: { queries: 0, matches: 0 },
  };
  // Class-keyed marks: per top-1 class t, how often each other class is the suspect's runner-up (and top-1).
  const runnerUps = new Map<number, Float64Array>();
  const top1s = new Map<number, Float64Array>();
  const tally = (table: Map<number, Float64Array>, t: number, k: number) => {
    let row = table.get(t);
    if (!row) table.set(t, (row = new Float64Array(K)));
    row[k]++;
  };
  let softSkipped: string | undefined;
  let queried = 0;
  for (let from = 0; from < entries.length; from += batchSize) {
    let part = entries.slice(from, from + batchSize);
    if (softSkipped) part = part.filter((e) => kindOf(e) === "label");
    if (part.length === 0) continue;
    const data = new Float32Array(part.length * size);
    part.forEach((e, i) => data.set(e.input, i * size));
    const answer = await suspect({ data, batchSize: part.length, inputShape });
    queried += part.length;
    if (answer.labels.length !== part.length) throw new Error(`the suspect answered ${answer.labels.length} labels for ${part.length} inputs`);
    if (answer.probs && answer.probs.length !== part.length * K) throw new Error(`the suspect answered ${answer.probs.length} probabilities for ${part.length} inputs of ${K} classes`);
    part.forEach((e, i) => {
      if (kindOf(e) === "label" && byClass(e)) {
        if (e.victimLabel === undefined) throw new Error("a class-keyed label mark without the victim's label");
        counts.labelClass.queries++;
        if (answer.labels[i] === e.label) counts.labelClass.matches++;
        tally(top1s, e.victimLabel, answer.labels[i]);
        if (!answer.probs) {
          softSkipped = "the suspect answers labels only: the runner-up tests need its probabilities";
          return;
        }
        const r = topOther(answer.probs, i, K, e.victimLabel);
        counts.softClass.queries++;
        if (r === e.label) counts.softClass.matches++;
        tally(runnerUps, e.victimLabel, r);
      } else if (kindOf(e) === "label") {
        const c = counts.label;
        c.queries++;
        if (answer.labels[i] === e.label) c.matches++;
        if (e.victimLabel !== undefined) {
          c.withVictim++;
          if (answer.labels[i] === e.victimLabel) c.agree++;
        }
      } else if (answer.probs) {
        const r = topOther(answer.probs, i, K, e.victimLabel!);
        const c = byClass(e) ? counts.softClass : counts.softInput;
        c.queries++;
        if (r === e.label) c.matches++;
        if (byClass(e)) tally(runnerUps, e.victimLabel!, r);
      } else {
        softSkipped = "the suspect answers labels only: the runner-up tests need its probabilities";
      }
    });
  }
  const nullRate = 1 / (K - 1);
  const l = counts.label;
  // Where the log has the victim's label for every input, only the queries the suspect did not answer with it count.
  const labelTest = l.queries ? markTest(l.queries, l.matches, l.withVictim === l.queries ? l.queries - l.agree : l.queries, nullRate) : null;
  const si = counts.softInput;
  const softInput = si.queries ? markTest(si.queries, si.matches, si.queries, nullRate) : null;
  const sc = counts.softClass;
  let softClass: MarkTest | null = null;
  if (sc.queries) {
    const logP = logClassKeyedTail(runnerUps, K, sc.matches);
    softClass = { queries: sc.queries, matches: sc.matches, informative: sc.queries, pValue: Math.exp(logP), log10PValue: logP / Math.LN10 };
  }
  const lc = counts.labelClass;
  let labelClass: MarkTest | null = null;
  if (lc.queries) {
    const logP = logClassKeyedTail(top1s, K, lc.matches);
    labelClass = { queries: lc.queries, matches: lc.matches, informative: lc.queries, pValue: Math.exp(logP), log10PValue: logP / Math.LN10 };
  }
  const tests = [labelTest, labelClass, softInput, softClass].filter((t): t is MarkTest => t !== null);
  const minLog = Math.min(...tests.map((t) => t.log10PValue));
  const log10P = Math.min(0, minLog + Math.log10(tests.length));
  return {
    // Class-keyed label entries are in two tests: each query counts once.
    queries: queried,
    matches: tests.reduce((n, t) => n + t.matches, 0),
    pValue: 10 ** log10P,
    log10PValue: log10P,
    nullRate,
    informative: tests.reduce((n, t) => n + t.informative, 0),
    alpha,
    verdict: log10P <= Math.log10(alpha) ? "stolen" : "no evidence",
    label: labelTest,
    labelClass,
    softInput,
    softClass,
    softSkipped,
    victimAgreement: l.withVictim ? l.agree / l.withVictim : undefined,
    duplicates,
  };
}

/** The input's bytes as a string: a Set key without Node's Buffer. */
function byteKey(input: Float32Array): string {
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return out;
}
