// ModelGuard-S (Tang et al., USENIX Security 2024): quantised answers. Per predicted class, a codebook
// of earlier answers; a query gets the first one within L1 distance ε of its y, else y (stored while the
// class has room). Bounded, deterministic in query order, keeps top-1; chains in front of other defenses.
import { checkProbabilityRows, rowArgmax, validateDefenseBatch } from "./batch.js";
import type { Defense } from "./defense.js";
import { defineDefense } from "./definition.js";
import { DefenseConfigError, DefenseInputError } from "./errors.js";
import { defineParameters, param } from "./parameters.js";

const parameters = defineParameters("modelguard-s", {
  epsilon: param.number({ description: "L1 radius: a query gets the first stored answer of its class within ε of y.", default: 1, min: 0, max: 2 }),
  capacity: param.integer({
    description: "Most stored answers per class; a full class stores no more (a query with no stored answer within ε then gets y).",
    default: 1024,
    min: 1,
    max: 1_000_000,
  }),
});

export const MODELGUARD_S_STATE_FORMAT = "modelguard-s/v1";

/** The codebooks, JSON-serialisable (exportState / importState). */
export interface ModelGuardSState {
  readonly format: typeof MODELGUARD_S_STATE_FORMAT;
  /** K of the stored vectors; null before the first query (then `codebooks` is empty). */
  readonly numClasses: number | null;
  /** codebooks[c]: the stored answers of predicted class c, in the order they were stored, K entries each. */
  readonly codebooks: number[][][];
}

export interface ModelGuardSDefense extends Defense {
  /** A copy of the codebooks. */
  exportState(): ModelGuardSState;
  /** Replaces the codebooks by `state` (validated first: nothing changes if it is rejected). */
  importState(state: ModelGuardSState): void;
  reset(): void;
}

/** Whether `defense` is a ModelGuard-S instance (with exportState / importState). */
export function isModelGuardS(defense: Defense): defense is ModelGuardSDefense {
  const d = defense as Partial<ModelGuardSDefense>;
  return defense.name === "modelguard-s" && typeof d.exportState === "function" && typeof d.importState === "function";
}

/** One class's codebook: `count` vectors of K entries in a buffer that grows by doubling up to capacity. */
interface Codebook {
  data: Float32Array;
  count: number;
}

function l1Within(a: Float32Array, aStart: number, b: Float32Array, bStart: number, K: number, epsilon: number): boolean {
  let s = 0;
  for (let k = 0; k < K; k++) {
    s += Math.abs(a[aStart + k] - b[bStart + k]);
    if (s > epsilon) return false;
  }
  return true;
}

function validateState(state: unknown, capacity: number): { K: number | null; books: Codebook[] } {
  const bad = (field: string, detail: string, row?: number) => new DefenseInputError(`state${field}`, row, detail);
  if (typeof state !== "object" || state === null || Array.isArray(state)) throw bad("", "must be an object from exportState()");
  const s = state as Partial<ModelGuardSState>;
  if (s.format !== MODELGUARD_S_STATE_FORMAT) throw bad(".format", `must be "${MODELGUARD_S_STATE_FORMAT}", got ${JSON.stringify(s.format)}`);
  if (!Array.isArray(s.codebooks)) throw bad(".codebooks", "must be an array (one codebook per class)");
  if (s.numClasses === null) {
    if (s.codebooks.length !== 0) throw bad(".codebooks", "must be empty when numClasses is null");
    return { K: null, books: [] };
  }
  const K = s.numClasses;
  if (typeof K !== "number" || !Number.isInteger(K) || K < 2) throw bad(".numClasses", `must be an integer >= 2 or null, got ${JSON.stringify(K)}`);
  if (s.codebooks.length !== K) throw bad(".codebooks", `has ${s.codebooks.length} codebooks, expected one per class (numClasses ${K})`);
  const books: Codebook[] = [];
  for (let c = 0; c < K; c++) {
    const field = `.codebooks[${c}]`;
    const vectors = s.codebooks[c];
    if (!Array.isArray(vectors)) throw bad(field, "must be an array of vectors");
    if (vectors.length > capacity) {
      throw new DefenseConfigError("modelguard-s", "capacity", `the state's codebook of class ${c} holds ${vectors.length} vectors, more than capacity ${capacity}`);
    }
    const data = new Float32Array(Math.max(1, vectors.length) * K);
    vectors.forEach((v, j) => {
      if (!Array.isArray(v) || v.length !== K) throw bad(field, `must be an array of ${K} numbers`, j);
      for (let k = 0; k < K; k++) {
        if (typeof v[k] !== "number") throw bad(field, `class ${k} is ${JSON.stringify(v[k])}, not a number`, j);
        data[j * K + k] = v[k];
      }
    });
    checkProbabilityRows(`state${field}`, data, vectors.length, K);
    for (let j = 0; j < vectors.length; j++) {
      const top = rowArgmax(data, j, K);
      if (top !== c) throw bad(field, `its largest entry is class ${top}, not the codebook's class ${c}`, j);
    }
    books.push({ data, count: vectors.length });
  }
  return { K, books };
}

/**
 * At most `capacity` vectors per class. A full class stores nothing more, and a query with no stored vector
 * within ε gets y unchanged: every answer stays within ε of its y (a nearest vector beyond ε would not).
 * Stored vectors are exact copies of earlier y of class c (rowArgmax, first maximum), so an answer's
 * argmax is its query's, ties included.
 */
function createModelGuardS(params: { readonly epsilon: number; readonly capacity: number }): ModelGuardSDefense {
  const { epsilon, capacity } = params;
  let K: number | null = null;
  let books: Codebook[] = [];

  /** The stored vector that answers row `i` of `probs`, or null: then y answers, stored first if its class has room. */
  function lookup(probs: Float32Array, i: number): { book: Codebook; offset: number } | null {
    const k = K!;
    const c = rowArgmax(probs, i, k);
    const book = books[c];
    const start = i * k;
    for (let j = 0; j < book.count; j++) if (l1Within(book.data, j * k, probs, start, k, epsilon)) return { book, offset: j * k };
    if (book.count >= capacity) return null;
    if ((book.count + 1) * k > book.data.length) {
      const grown = new Float32Array(Math.min(capacity, Math.max(4, 2 * book.count)) * k);
      grown.set(book.data.subarray(0, book.count * k));
      book.data = grown;
    }
    book.data.set(probs.subarray(start, start + k), book.count * k);
    book.count++;
    return null;
  }

  return {
    name: "modelguard-s",
    params,
    traits: { keepsTop1: true, needsInput: false, stateful: true, randomized: false, onSimplex: true },
    async apply(batch) {
      validateDefenseBatch(batch);
      const { probs, batchSize: B, numClasses } = batch;
      if (B === 0) return { probs: new Float32Array(0) };
      if (K === null) {
        K = numClasses;
        books = Array.from({ length: K }, () => ({ data: new Float32Array(0), count: 0 }));
      } else if (numClasses !== K) {
        throw new DefenseInputError("numClasses", undefined, `is ${numClasses}, but the codebooks hold vectors of ${K} classes (reset() to start over)`);
      }
      const out = Float32Array.from(probs);
      for (let i = 0; i < B; i++) {
        const hit = lookup(probs, i);
        if (hit) out.set(hit.book.data.subarray(hit.offset, hit.offset + numClasses), i * numClasses);
      }
      return { probs: out };
    },
    reset() {
      K = null;
      books = [];
    },
    exportState() {
      if (K === null) return { format: MODELGUARD_S_STATE_FORMAT, numClasses: null, codebooks: [] };
      const k = K;
      return {
        format: MODELGUARD_S_STATE_FORMAT,
        numClasses: k,
        codebooks: books.map((b) => Array.from({ length: b.count }, (_, j) => Array.from(b.data.subarray(j * k, (j + 1) * k)))),
      };
    },
    importState(state) {
      const loaded = validateState(state, capacity);
      K = loaded.K;
      books = loaded.books;
    },
  };
}

export const modelguardSDefense = defineDefense({
  name: "modelguard-s",
  description:
    "ModelGuard-S (Tang et al. 2024): per predicted class, a codebook of earlier answers; a query gets the first one within ε (L1) of y, else y (stored while the class has room). Keeps top-1; stateful, deterministic in query order.",
  needsCore: false,
  parameters,
  create(params) {
    return createModelGuardS(params);
  },
});
