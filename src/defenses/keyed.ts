// Keyed MAD: a per-deployment secret key makes each answer depend on a choice a thief cannot reproduce.
// After the core's MAD answer a (within ε of the victim's y), for each row
//   a' = y + s·(a − y)               s ∈ [1 − δ, 1] keyed (keyJitter δ: the step shrinks by a keyed amount)
//   z  = y + γ·(r − y)               r a keyed random point of the simplex, γ ≤ 1 the largest step within ε
//   ỹ  = (1 − β)·a' + β·z            β = keyMix
// a' and z lie on the simplex and within ε of y (in L1, L2 or KL: every such ball is convex), so ỹ does;
// with the top-1 kept, r has its largest entry at argmax y, so every term, and ỹ, has that top class.
// The unknown r leaves K − 1 unknown dimensions per answer, where unkeyed MAD leaves none.
//
// The randomness is HMAC-SHA-256(key, cell of y): y quantised on a lattice of width `keyCell` (shifted
// by a keyed offset) with its top-1 class. A query and its imperceptibly jittered copies mostly share a
// cell, so they get the same r and averaging them gains little; two queries get independent r's only
// if their y differ by about a cell. Keying on y rather than on the input means the thief cannot tell
// which of its queries share r (it does not know y), and cannot pair a confident query with an uncertain
// one in the same cell to learn r. Web Crypto only (crypto.subtle): no Node import, so browsers and edge
// runtimes run it too.
import { rowArgmax } from "./batch.js";
import { DefenseConfigError } from "./errors.js";

export type KeyedDistance = "l1" | "l2" | "kl";

export interface KeyedSettings {
  /** β: share of the answer moved to the keyed point z. */
  readonly keyMix: number;
  /** δ: the MAD step is scaled by a keyed s ∈ [1 − δ, 1]. */
  readonly keyJitter: number;
  /** Width of the y-lattice cells on which the keyed choice is constant. */
  readonly keyCell: number;
  readonly distance: KeyedDistance;
  readonly epsilon: number;
  /** Keep argmax y (r then has its largest entry there). */
  readonly keepTop1: boolean;
}

export interface KeyedMix {
  /** ỹ for victim rows `y` and the core's MAD answers `a` (both B x K); a row that float32 rounding would
   * push out of a promise (top-1) falls back to a. */
  apply(y: Float32Array, a: Float32Array, numClasses: number): Promise<Float32Array>;
}

/** Shortest key accepted, in bytes (128 bits). */
export const MIN_KEY_BYTES = 16;
/** Even-length hex of at least MIN_KEY_BYTES bytes. */
export const KEY_PATTERN = /^(?:[0-9a-fA-F]{2}){16,}$/;
const DOMAIN = new TextEncoder().encode("prediction-poisoning/keyed-mad/v1");
const WORDS_PER_BLOCK = 8; // one HMAC-SHA-256 output: eight 32-bit words
const KL_BISECTIONS = 60;

export function isKeyHex(value: string): boolean {
  return KEY_PATTERN.test(value);
}

export function keyBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** Whether the settings use the key at all. */
export function isKeyed(settings: Pick<KeyedSettings, "keyMix" | "keyJitter">): boolean {
  return settings.keyMix > 0 || settings.keyJitter > 0;
}

/** The distance-ball step: the largest γ ∈ [0, 1] with y + γ(r − y) within ε of y. */
export function stepWithin(y: ArrayLike<number>, r: ArrayLike<number>, epsilon: number, distance: KeyedDistance): number {
  const K = y.length;
  if (distance === "kl") {
    const kl = (g: number) => {
      let s = 0;
      for (let k = 0; k < K; k++) if (y[k] > 0) s += y[k] * Math.log(y[k] / (y[k] + g * (r[k] - y[k])));
      return s;
    };
    if (kl(1) <= epsilon) return 1;
    // KL(y || y + g(r − y)) is convex in g and 0 at g = 0, so it grows on [0, 1]: bisect, keeping lo inside.
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < KL_BISECTIONS; i++) {
      const mid = (lo + hi) / 2;
      if (kl(mid) <= epsilon) lo = mid;
      else hi = mid;
    }
    return lo;
  }
  let norm = 0;
  for (let k = 0; k < K; k++) norm += distance === "l1" ? Math.abs(r[k] - y[k]) : (r[k] - y[k]) ** 2;
  if (distance === "l2") norm = Math.sqrt(norm);
  return norm <= epsilon ? 1 : epsilon / norm;
}

/**
 * The keyed mix of one row, in float64: `u` holds K + 1 keyed uniforms in (0, 1) (K for r, one for the
 * step jitter). Exported for tests and analyses; the defense calls it through createKeyedMix.
 */
export function mixRow(y: ArrayLike<number>, a: ArrayLike<number>, u: ArrayLike<number>, settings: KeyedSettings): Float64Array {
  const K = y.length;
  const { keyMix: beta, keyJitter: delta } = settings;
  const s = 1 - delta * u[K];
  // r ~ Dirichlet(1, ..., 1) from exponentials: uniform on the simplex.
  const r = new Float64Array(K);
  let total = 0;
  for (let k = 0; k < K; k++) total += r[k] = -Math.log(u[k]);
  for (let k = 0; k < K; k++) r[k] /= total;
  if (settings.keepTop1) {
    const top = rowArgmax(y, 0, K);
    const largest = rowArgmax(r, 0, K);
    [r[top], r[largest]] = [r[largest], r[top]];
  }
  const gamma = beta > 0 ? stepWithin(y, r, settings.epsilon, settings.distance) : 0;
  const out = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const shrunk = y[k] + s * (a[k] - y[k]);
    const keyedPoint = y[k] + gamma * (r[k] - y[k]);
    out[k] = Math.max(0, (1 - beta) * shrunk + beta * keyedPoint);
  }
  return out;
}

function wordsToUniforms(block: ArrayBuffer, into: Float64Array, from: number): void {
  const view = new DataView(block);
  for (let w = 0; w < WORDS_PER_BLOCK && from + w < into.length; w++) into[from + w] = (view.getUint32(4 * w, true) + 0.5) / 4294967296;
}

export function createKeyedMix(defense: string, keyHex: string, settings: KeyedSettings): KeyedMix {
  if (!isKeyHex(keyHex)) throw new DefenseConfigError(defense, "key", `must be hex of at least ${MIN_KEY_BYTES} bytes`);
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new DefenseConfigError(defense, "key", "needs Web Crypto (crypto.subtle; in a browser, a secure context)");
  const hmacKey = subtle.importKey("raw", keyBytes(keyHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const name = new TextEncoder().encode(defense);

  /** count keyed uniforms for `purpose` and the message `body`, from as many HMAC blocks as needed. */
  async function uniforms(purpose: number, body: Uint8Array, count: number): Promise<Float64Array> {
    const key = await hmacKey;
    const header = DOMAIN.length + 1 + name.length + 2;
    const message = new Uint8Array(header + body.length + 2);
    message.set(DOMAIN);
    message[DOMAIN.length] = purpose;
    message.set(name, DOMAIN.length + 1);
    message.set(body, header);
    const out = new Float64Array(count);
    const blocks = Math.ceil(count / WORDS_PER_BLOCK);
    const signed = await Promise.all(
      Array.from({ length: blocks }, (_, b) => {
        const m = message.slice();
        new DataView(m.buffer).setUint16(m.length - 2, b, true);
        return subtle!.sign("HMAC", key, m);
      }),
    );
    signed.forEach((block, b) => wordsToUniforms(block, out, b * WORDS_PER_BLOCK));
    return out;
  }

  // The lattice offset per number of classes: keyed, so a thief does not know where the cells end.
  const offsets = new Map<number, Promise<Float64Array>>();
  const offsetsFor = (K: number) => {
    let pending = offsets.get(K);
    if (!pending) {
      const body = new Uint8Array(2);
      new DataView(body.buffer).setUint16(0, K, true);
      pending = uniforms(0, body, K);
      offsets.set(K, pending);
    }
    return pending;
  };

  async function rowUniforms(y: Float32Array, row: number, K: number, offset: Float64Array): Promise<Float64Array> {
    // Message: K, the top-1 class, and y's cell index per class (each fits in 16 bits: keyCell ≥ 1e-4).
    const body = new Uint8Array(4 + 2 * K);
    const view = new DataView(body.buffer);
    view.setUint16(0, K, true);
    view.setUint16(2, rowArgmax(y, row, K), true);
    for (let k = 0; k < K; k++) view.setUint16(4 + 2 * k, Math.floor(y[row * K + k] / settings.keyCell + offset[k]), true);
    return uniforms(1, body, K + 1);
  }

  return {
    async apply(y, a, K) {
      const B = y.length / K;
      const out = new Float32Array(y.length);
      const offset = await offsetsFor(K);
      const draws = await Promise.all(Array.from({ length: B }, (_, i) => rowUniforms(y, i, K, offset)));
      for (let i = 0; i < B; i++) {
        const yRow = y.subarray(i * K, (i + 1) * K);
        const aRow = a.subarray(i * K, (i + 1) * K);
        out.set(mixRow(yRow, aRow, draws[i], settings), i * K);
        if (settings.keepTop1 && rowArgmax(out, i, K) !== rowArgmax(y, i, K)) out.set(aRow, i * K);
      }
      return out;
    },
  };
}
