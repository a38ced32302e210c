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
import type { InputBatch } from "../models/types.js";
import { logBinomialTail } from "./binomial.js";

/** One logged watermarked answer: the input and the watermark label it was given. */
export interface WatermarkEntry {
  readonly input: Float32Array;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly label: number;
  readonly victimLabel?: number;
  readonly victimProb?: number;
}

/** Labels of the suspect for a batch of inputs. */
export type SuspectLabels = (batch: InputBatch) => Promise<Int32Array>;

export interface VerifyOptions {
  readonly maxQueries?: number;
  /** Verdict "stolen" when the p-value is at most this. Default 1e-6. */
  readonly alpha?: number;
  readonly batchSize?: number;
}

export interface VerifyResult {
  readonly queries: number;
  readonly matches: number;
  readonly pValue: number;
  readonly log10PValue: number;
  /** The per-query null rate used: 1 / (K − 1). */
  readonly nullRate: number;
  /** Queries on which a match was possible: the suspect did not answer the victim's top-1 (all, without victim labels). */
  readonly informative: number;
  readonly alpha: number;
  readonly verdict: "stolen" | "no evidence";
  /** How often the suspect answered the victim's own top-1 (a diagnostic: a good model does either way). */
  readonly victimAgreement?: number;
  readonly duplicates: number;
}

export const DEFAULT_MAX_QUERIES = 200;
export const DEFAULT_ALPHA = 1e-6;

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
    const id = byteKey(e.input);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(e);
  }
  return { entries: out, duplicates: entries.length - out.length };
}

export async function verifyWatermark(logEntries: readonly WatermarkEntry[], suspect: SuspectLabels, options: VerifyOptions = {}): Promise<VerifyResult> {
  const { entries: all, duplicates } = distinctEntries(logEntries);
  const maxQueries = options.maxQueries ?? DEFAULT_MAX_QUERIES;
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const batchSize = options.batchSize ?? 64;
  const entries = all.slice(0, maxQueries);
  const K = entries[0].numClasses;
  if (K < 2) throw new Error(`the watermark log says ${K} classes`);
  const inputShape = entries[0].inputShape;
  const size = inputShape.reduce((a, b) => a * b, 1);
  let matches = 0;
  let agree = 0;
  let withVictim = 0;
  for (let from = 0; from < entries.length; from += batchSize) {
    const part = entries.slice(from, from + batchSize);
    const data = new Float32Array(part.length * size);
    part.forEach((e, i) => data.set(e.input, i * size));
    const labels = await suspect({ data, batchSize: part.length, inputShape });
    if (labels.length !== part.length) throw new Error(`the suspect answered ${labels.length} labels for ${part.length} inputs`);
    part.forEach((e, i) => {
      if (labels[i] === e.label) matches++;
      if (e.victimLabel !== undefined) {
        withVictim++;
        if (labels[i] === e.victimLabel) agree++;
      }
    });
  }
  const nullRate = 1 / (K - 1);
  // Where the log has the victim's label for every input, only the queries the suspect did not answer with it count.
  const informative = withVictim === entries.length ? entries.length - agree : entries.length;
  const logP = logBinomialTail(matches, informative, nullRate);
  return {
    queries: entries.length,
    matches,
    pValue: Math.exp(logP),
    log10PValue: logP / Math.LN10,
    nullRate,
    informative,
    alpha,
    verdict: logP <= Math.log(alpha) ? "stolen" : "no evidence",
    victimAgreement: withVictim ? agree / withVictim : undefined,
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
