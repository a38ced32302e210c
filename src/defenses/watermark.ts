// DAWN-style watermarking (Szyller et al., ACM MM 2021) as a wrapper around any defense.
// A keyed, deterministic selection of about `rate` of the queries gets a keyed wrong top-1 label:
//   h = HMAC-SHA-256(key, "prediction-poisoning/watermark/v1" ‖ K ‖ input shape ‖ input as float32 LE bytes)
//   selected  ⇔ u₀ < rate,            u₀ = (first 32-bit word of h + 0.5) / 2³²
//   label   w = the ⌊u₁·(K − 1)⌋-th class other than c = argmax y (the victim's top-1), u₁ from the second word
// The answer vector of a selected row is the wrapped defense's answer a with its top entry and entry w
// swapped: ã = a ∘ (t w), t = argmax a. That is a permutation of a, so it stays on the simplex and ã_w is
// its largest entry. When the top is not strict (a tie, e.g. a uniform a), ã is moved halfway to the
// one-hot of w: ã = (ã + e_w) / 2, still on the simplex, and ã_w ≥ 1/2 > every other entry.
// Soft marks (softRate > 0): another keyed share of the queries, disjoint from the label marks
// (rate ≤ u₀ < rate + softRate), keeps its top-1 t = argmax a but moves mass into a keyed class w ≠ t:
//   ã = (1 − m)·a + m·e_w,   m = min(softMass, ½·(a_t − a_w)/(1 + a_t − a_w))
// The cap keeps a_t the strict top (ã_t − ã_w = (1 − m)(a_t − a_w) − m ≥ half the old gap), so honest users
// lose no top-1 answer; a thief that trains on the probabilities learns the mass on w, and `verify` tests
// whether the suspect's most likely class other than t is w (exactly 1 / (K − 1) for an independent model).
// A thief that keeps only top-1 labels discards soft marks: only the label marks reach it.
// Which class w gets the mass (softKeying):
//   "class" (default): w = π(t), one keyed class per top-1 class, π(t) the ⌊u·(K − 1)⌋-th class other than t,
//     u from HMAC(key, "prediction-poisoning/watermark/class/v1" ‖ K ‖ t). Every soft mark of class t points
//     the same way, so even a copy that generalises rather than memorises learns it (as a confusion).
//   "input": w drawn per input like a label mark's (u₁ above); only a copy that memorises its training
//     answers keeps it (measured in docs/RESULTS.md).
// Label marks may be keyed per class too (labelKeying "class": w = π(c), the same map): a copy trained on
// top-1 labels then sees one consistent confusion per class instead of scattered single flips.
// Rows not selected get a exactly. The same input always gets the same answer (given a deterministic
// wrapped defense), in every worker and replica with the same key; another key selects other inputs.
// Web Crypto only (crypto.subtle): no Node import, so browsers and edge runtimes run it too.
import { rowArgmax } from "./batch.js";
import type { Defense, DefenseBatch, DefenseResult } from "./defense.js";
import { DefenseConfigError, DefenseInputError } from "./errors.js";
import { isKeyHex, keyBytes, MIN_KEY_BYTES } from "./keyed.js";

const DOMAIN = new TextEncoder().encode("prediction-poisoning/watermark/v1");

/** "label": a keyed wrong top-1; "soft": the top-1 kept, keyed mass moved into another class. */
export type WatermarkKind = "label" | "soft";

/** How a soft mark's class is keyed: per top-1 class, or per input (see the header). */
export type SoftKeying = "class" | "input";

/** One watermarked answer, for the watermark log. */
export interface WatermarkRecord {
  /** Absent in logs written before soft marks: "label". */
  readonly kind?: WatermarkKind;
  /** Soft marks: how `label` was keyed. */
  readonly keying?: SoftKeying;
  /** The query as given (a copy; `inputShape` per example). */
  readonly input: Float32Array;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** The watermark class: the answer's strict top-1 (label marks) or the class given the mass (soft marks). */
  readonly label: number;
  /** The victim's own top-1 (≠ label); for soft marks the answer's top-1, which the mark keeps. */
  readonly victimLabel: number;
  /** The victim's probability of the watermark class (informational: never used as a null rate by default). */
  readonly victimProb: number;
}

export interface WatermarkOptions {
  /** Hex key of at least MIN_KEY_BYTES bytes (the deployment key file's content). */
  readonly key: string;
  /** Fraction of queries watermarked, in [0, 1). */
  readonly rate: number;
  /** Fraction of queries given a soft mark (top-1 kept), in [0, 1 − rate]; default 0. */
  readonly softRate?: number;
  /** Largest mass a soft mark moves, in (0, 1); default DEFAULT_SOFT_MASS. */
  readonly softMass?: number;
  /** Default "class". */
  readonly softKeying?: SoftKeying;
  /** How a label mark's class is keyed; default "input" (DAWN). */
  readonly labelKeying?: SoftKeying;
  /**
   * Fraction of queries whose soft mark is recorded (onWatermark), in [0, softRate]; default softRate (all).
   * Soft marks may be on most answers; `verify` needs only a few hundred of them.
   */
  readonly softLogRate?: number;
  /** Called with the watermarked rows of each batch before the answer is returned (awaited). */
  readonly onWatermark?: (records: WatermarkRecord[]) => void | Promise<void>;
}

export const DEFAULT_SOFT_MASS = 0.25;

export interface WatermarkDraw {
  /** A label mark. */
  readonly selected: boolean;
  /** A soft mark (never together with a label mark). */
  readonly soft: boolean;
  /** A soft mark that is recorded (a keyed share softLogRate / softRate of them). */
  readonly logged: boolean;
  /** Index among the K − 1 classes other than the victim's top-1. */
  readonly offset: number;
}

export interface Watermarker {
  /** The keyed draw for one input (exported for tests and `verify`). */
  draw(input: Float32Array, inputShape: readonly number[], numClasses: number): Promise<WatermarkDraw>;
  /** The keyed offset of top-1 class `top` among K classes (class-keyed soft marks: π(top) = watermarkClass(top, offset)). */
  classOffset(top: number, numClasses: number): Promise<number>;
}

const CLASS_DOMAIN = new TextEncoder().encode("prediction-poisoning/watermark/class/v1");

export function createWatermarker(keyHex: string, rate: number, softRate = 0, softLogRate = softRate): Watermarker {
  if (!isKeyHex(keyHex)) throw new DefenseConfigError("watermark", "key", `must be hex of at least ${MIN_KEY_BYTES} bytes`);
  if (!(Number.isFinite(rate) && rate >= 0 && rate < 1)) throw new DefenseConfigError("watermark", "rate", `must be in [0, 1), got ${rate}`);
  if (!(Number.isFinite(softRate) && softRate >= 0 && rate + softRate <= 1)) {
    throw new DefenseConfigError("watermark", "softRate", `must be in [0, 1 − rate] = [0, ${1 - rate}], got ${softRate}`);
  }
  if (!(Number.isFinite(softLogRate) && softLogRate >= 0 && softLogRate <= softRate)) {
    throw new DefenseConfigError("watermark", "softLogRate", `must be in [0, softRate] = [0, ${softRate}], got ${softLogRate}`);
  }
  const logShare = softRate > 0 ? softLogRate / softRate : 0;
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new DefenseConfigError("watermark", "key", "needs Web Crypto (crypto.subtle; in a browser, a secure context)");
  const hmacKey = subtle.importKey("raw", keyBytes(keyHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  // At most K entries per class count: the class-keyed offsets are computed once.
  const classOffsets = new Map<number, Promise<number>>();
  return {
    async draw(input, inputShape, K) {
      const header = DOMAIN.length + 2 + 1 + 4 * inputShape.length;
      const message = new Uint8Array(header + input.byteLength);
      message.set(DOMAIN);
      const view = new DataView(message.buffer);
      view.setUint16(DOMAIN.length, K, true);
      view.setUint8(DOMAIN.length + 2, inputShape.length);
      inputShape.forEach((d, i) => view.setUint32(DOMAIN.length + 3 + 4 * i, d, true));
      for (let i = 0; i < input.length; i++) view.setFloat32(header + 4 * i, input[i], true);
      const h = new DataView(await subtle.sign("HMAC", await hmacKey, message));
      const u0 = (h.getUint32(0, true) + 0.5) / 4294967296;
      const u1 = (h.getUint32(4, true) + 0.5) / 4294967296;
      const u2 = (h.getUint32(8, true) + 0.5) / 4294967296;
      const soft = u0 >= rate && u0 < rate + softRate;
      return { selected: u0 < rate, soft, logged: soft && u2 < logShare, offset: Math.min(K - 2, Math.floor(u1 * (K - 1))) };
    },
    async classOffset(top, K) {
      const id = K * 65536 + top;
      let offset = classOffsets.get(id);
      if (!offset) {
        const message = new Uint8Array(CLASS_DOMAIN.length + 4);
        message.set(CLASS_DOMAIN);
        const view = new DataView(message.buffer);
        view.setUint16(CLASS_DOMAIN.length, K, true);
        view.setUint16(CLASS_DOMAIN.length + 2, top, true);
        offset = subtle.sign("HMAC", await hmacKey, message).then((h) => Math.min(K - 2, Math.floor(((new DataView(h).getUint32(0, true) + 0.5) / 4294967296) * (K - 1))));
        classOffsets.set(id, offset);
      }
      return offset;
    },
  };
}

/** The watermark class for a draw: the offset-th class other than the victim's top-1 `victimTop`. */
export function watermarkClass(victimTop: number, offset: number): number {
  return offset < victimTop ? offset : offset + 1;
}

/** The watermarked answer row (see the header): `a` with its top and class w swapped, halfway to e_w on a tie. */
export function watermarkRow(a: ArrayLike<number>, w: number): Float32Array {
  const K = a.length;
  const out = Float32Array.from(a);
  const t = rowArgmax(out, 0, K);
  [out[t], out[w]] = [out[w], out[t]];
  let strict = true;
  for (let k = 0; k < K; k++) if (k !== w && out[k] >= out[w]) strict = false;
  if (!strict) for (let k = 0; k < K; k++) out[k] = (out[k] + (k === w ? 1 : 0)) / 2;
  return out;
}

/**
 * The soft-marked answer row (see the header): mass moved from `a` into class w, a's strict top-1 kept;
 * null when a has no strict top-1 (nothing can be moved without touching it).
 */
export function softMarkRow(a: ArrayLike<number>, w: number, softMass: number): Float32Array | null {
  const K = a.length;
  const t = rowArgmax(a, 0, K);
  for (let k = 0; k < K; k++) if (k !== t && a[k] >= a[t]) return null;
  const gap = a[t] - a[w];
  const m = Math.min(softMass, (0.5 * gap) / (1 + gap));
  const out = new Float32Array(K);
  for (let k = 0; k < K; k++) out[k] = (1 - m) * a[k] + (k === w ? m : 0);
  return out;
}

/** Wraps `inner` so that a keyed ~rate of the queries answer a keyed wrong top-1 label (see the header). */
export function withWatermark(inner: Defense, options: WatermarkOptions): Defense {
  const marker = createWatermarker(options.key, options.rate, options.softRate ?? 0, options.softLogRate ?? options.softRate ?? 0);
  const softMass = options.softMass ?? DEFAULT_SOFT_MASS;
  if (!(Number.isFinite(softMass) && softMass > 0 && softMass < 1)) throw new DefenseConfigError("watermark", "softMass", `must be in (0, 1), got ${softMass}`);
  const keying = options.softKeying ?? "class";
  if (keying !== "class" && keying !== "input") throw new DefenseConfigError("watermark", "softKeying", `must be "class" or "input", got ${JSON.stringify(keying)}`);
  const labelKeying = options.labelKeying ?? "input";
  if (labelKeying !== "class" && labelKeying !== "input") throw new DefenseConfigError("watermark", "labelKeying", `must be "class" or "input", got ${JSON.stringify(labelKeying)}`);
  return {
    name: inner.name,
    params: inner.params,
    // needsInput stays the inner defense's: DefendedModel reads it to decide whether to fill proxyProbs for
    // the inner one. The wrapper itself always needs batch.inputs (DefendedModel always passes them) and
    // throws without them.
    // Soft marks keep the top-1; label marks do not.
    traits: { ...inner.traits, keepsTop1: options.rate > 0 ? false : inner.traits.keepsTop1, keyed: true },
    async apply(batch: DefenseBatch): Promise<DefenseResult> {
      const inputs = batch.inputs;
      if (!inputs) throw new DefenseInputError("inputs", undefined, "the watermark needs the queries themselves (batch.inputs)");
      const B = batch.batchSize;
      const K = batch.numClasses;
      const size = inputs.data.length / Math.max(1, inputs.batchSize);
      if (inputs.batchSize !== B) throw new DefenseInputError("inputs", undefined, `has ${inputs.batchSize} rows for ${B} answers`);
      const [result, draws] = await Promise.all([
        inner.apply(batch),
        Promise.all(Array.from({ length: B }, (_, i) => marker.draw(inputs.data.subarray(i * size, (i + 1) * size), inputs.inputShape, K))),
      ]);
      if (!draws.some((d) => d.selected || d.soft)) return result;
      const probs = Float32Array.from(result.probs);
      const records: WatermarkRecord[] = [];
      for (let i = 0; i < B; i++) {
        if (draws[i].soft) {
          const a = result.probs.subarray(i * K, (i + 1) * K);
          const t = rowArgmax(a, 0, K);
          const w = watermarkClass(t, keying === "class" ? await marker.classOffset(t, K) : draws[i].offset);
          const row = softMarkRow(a, w, softMass);
          if (!row) continue;
          probs.set(row, i * K);
          if (draws[i].logged) records.push({
            kind: "soft", keying, input: inputs.data.slice(i * size, (i + 1) * size), inputShape: [...inputs.inputShape], numClasses: K,
            label: w, victimLabel: t, victimProb: batch.probs[i * K + w],
          });
          continue;
        }
        if (!draws[i].selected) continue;
        const c = rowArgmax(batch.probs, i, K);
        const w = watermarkClass(c, labelKeying === "class" ? await marker.classOffset(c, K) : draws[i].offset);
        probs.set(watermarkRow(result.probs.subarray(i * K, (i + 1) * K), w), i * K);
        records.push({
          kind: "label",
          ...(labelKeying === "class" ? { keying: "class" as const } : {}),
          input: inputs.data.slice(i * size, (i + 1) * size),
          inputShape: [...inputs.inputShape],
          numClasses: K,
          label: w,
          victimLabel: c,
          victimProb: batch.probs[i * K + w],
        });
      }
      if (records.length && options.onWatermark) await options.onWatermark(records);
      return { ...result, probs };
    },
    reset: inner.reset?.bind(inner),
    dispose: inner.dispose?.bind(inner),
  };
}
