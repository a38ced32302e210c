// PRADA (Juuti et al., EuroS&P 2019): detects model-stealing clients from the distribution of distances
// between their successive queries. Per client and per predicted class c there is a growing set G_c; a
// query x of class c has d = min over G_c of ‖x − g‖₂ (on the raw input floats), d is recorded in D_c,
// and when d > T_c the query joins G_c and T_c = max(T_c, mean − std of the distances that grew G_c).
// Every 10th query the D_c of classes with at least 10 entries are pooled, 3-sigma outliers dropped, and
// when more than 100 remain the Shapiro–Wilk W is computed: the client is flagged while W < δ (0.9 in the
// authors' code). Natural queries give roughly normal distances; synthetic ones grown from a few seeds
// (the Jacobian thieves) add a second mode of small steps and W drops.
//
// The authors' code keeps everything forever; here memory per client is bounded (see PradaOptions):
// G_c keeps its `maxGrowing` most recent members (older ones are dropped, oldest first), D_c its
// `maxDistances` most recent distances, and the mean and std of the growth distances are running
// (Welford) statistics over every growth ever. A pooled sample over 5000 values (AS R94's limit) is thinned
// to 5000 evenly spaced order statistics.
//
// The algorithm works on a plain state object (PradaState) that a PradaStore keeps: in memory here
// (MemoryPradaStore, bounded number of clients), in Redis in src/service/node/redis-prada.ts, so that every
// replica sees the same client. Edge-safe: no `node:` imports.
import { SHAPIRO_WILK_MAX_N, shapiroWilk } from "./shapiro-wilk.js";
import { PredictionPoisoningError } from "../core/errors.js";

export interface PradaOptions {
  /** Alarm while W < delta. Default 0.9 (the authors' code; the paper also uses 0.95). */
  readonly delta?: number;
  /** Test every this many queries. Default 10. */
  readonly checkEvery?: number;
  /** A class's distances join the pooled sample once it has this many. Default 10. */
  readonly minClassDistances?: number;
  /** W is computed when more than this many distances remain after dropping outliers. Default 100. */
  readonly minSample?: number;
  /** Distances farther than this many standard deviations from the mean are dropped. Default 3. */
  readonly outlierSigmas?: number;
  /** Most members of each class's growing set G_c (the oldest are dropped first). Default 100. */
  readonly maxGrowing?: number;
  /** Most distances kept per class in D_c (the most recent). Default 500. */
  readonly maxDistances?: number;
}

export const PRADA_DEFAULTS = {
  delta: 0.9,
  checkEvery: 10,
  minClassDistances: 10,
  minSample: 100,
  outlierSigmas: 3,
  maxGrowing: 100,
  maxDistances: 500,
} as const satisfies Required<PradaOptions>;

export interface PradaClassState {
  /** T_c. */
  threshold: number;
  /** Queries ever added to G_c; G_c holds the last min(added, maxGrowing), row k at k % maxGrowing. */
  added: number;
  /** The growing set's rows (min(added, maxGrowing) x dim, a ring); undefined: not loaded by the store. */
  growing?: Float32Array;
  /** Running count, mean and sum of squared deviations of the distances that grew G_c (the first member counts as 0, as in the reference). */
  grownCount: number;
  grownMean: number;
  grownM2: number;
  /** Distances ever recorded in D_c; D_c holds the last min(recorded, maxDistances), entry k at k % maxDistances. */
  recorded: number;
  distances: Float32Array;
}

export interface PradaState {
  /** Values per input. */
  readonly dim: number;
  /** Queries processed. */
  queries: number;
  /** The latest test's verdict (not sticky: a later test can clear it). */
  alarm: boolean;
  /** W of the latest test and its sample size. */
  w: number | null;
  sample: number;
  /** Times the alarm went from off to on. */
  alarms: number;
  /** The query (1-based) at which the alarm first went on. */
  firstAlarmAt: number | null;
  /** Set by whoever acts on the alarm (the service's --on-detect block); a blocked client is not observed any more. */
  blocked: boolean;
  readonly classes: Map<number, PradaClassState>;
}

export interface PradaCheck {
  /** The query (1-based) after which the test ran. */
  readonly query: number;
  readonly w: number;
  /** Distances tested (after dropping outliers and thinning). */
  readonly n: number;
  readonly alarm: boolean;
}

export interface PradaVerdict {
  /** The alarm after the batch. */
  readonly alarm: boolean;
  /** Some test during the batch alarmed. */
  readonly flagged: boolean;
  /** Tests during the batch that turned the alarm on. */
  readonly raised: number;
  readonly w: number | null;
  readonly sample: number;
  readonly queries: number;
  readonly firstAlarmAt: number | null;
  readonly blocked: boolean;
  readonly checks: readonly PradaCheck[];
}

/** A PRADA option out of range; `field` is the option. */
export class PradaConfigError extends PredictionPoisoningError {
  constructor(message: string, field?: string) {
    super("config", message, { field });
    this.name = "PradaConfigError";
  }
}

export function resolvePradaOptions(options: PradaOptions = {}): Required<PradaOptions> {
  const o = { ...PRADA_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Required<PradaOptions>;
  if (!(o.delta > 0 && o.delta < 1)) throw new PradaConfigError(`prada: delta must be in (0, 1), got ${o.delta}`, "delta");
  if (!(o.outlierSigmas > 0)) throw new PradaConfigError(`prada: outlierSigmas must be > 0, got ${o.outlierSigmas}`, "outlierSigmas");
  for (const name of ["checkEvery", "minClassDistances", "maxGrowing", "maxDistances"] as const) {
    if (!(Number.isInteger(o[name]) && o[name] >= 1)) throw new PradaConfigError(`prada: ${name} must be a positive integer, got ${o[name]}`, name);
  }
  if (!(Number.isInteger(o.minSample) && o.minSample >= 2)) throw new PradaConfigError(`prada: minSample must be an integer >= 2, got ${o.minSample}`, "minSample");
  return o;
}

export function newPradaState(dim: number): PradaState {
  return { dim, queries: 0, alarm: false, w: null, sample: 0, alarms: 0, firstAlarmAt: null, blocked: false, classes: new Map() };
}

/** Members currently in G_c. */
export function growingSize(cls: PradaClassState, maxGrowing: number): number {
  return Math.min(cls.added, maxGrowing);
}

/** Distances currently in D_c. */
export function distanceCount(cls: PradaClassState, maxDistances: number): number {
  return Math.min(cls.recorded, maxDistances);
}

export class PradaDetector {
  readonly options: Required<PradaOptions>;

  constructor(options: PradaOptions = {}) {
    this.options = resolvePradaOptions(options);
  }

  /**
   * Runs a client's batch of queries through the detector, in order: `inputs` is batch x state.dim
   * row-major, `labels` the class predicted for each. Mutates `state`; a blocked state is left as it is.
   */
  observe(state: PradaState, inputs: Float32Array, labels: ArrayLike<number>): PradaVerdict {
    const { dim } = state;
    const rows = labels.length;
    if (inputs.length !== rows * dim) throw new PredictionPoisoningError("input", `prada: ${inputs.length} input values for ${rows} rows of ${dim}`, { field: "inputs" });
    const checks: PradaCheck[] = [];
    let raised = 0;
    if (!state.blocked) {
      for (let r = 0; r < rows; r++) {
        this.record(state, inputs.subarray(r * dim, (r + 1) * dim), labels[r]);
        if (state.queries % this.options.checkEvery === 0) {
          const check = this.test(state);
          if (check) {
            if (check.alarm && !state.alarm) {
              raised++;
              state.alarms++;
              state.firstAlarmAt ??= state.queries + 1;
            }
            state.alarm = check.alarm;
            state.w = check.w;
            state.sample = check.n;
            checks.push(check);
          }
        }
        state.queries++;
      }
    }
    return {
      alarm: state.alarm,
      flagged: checks.some((c) => c.alarm),
      raised,
      w: state.w,
      sample: state.sample,
      queries: state.queries,
      firstAlarmAt: state.firstAlarmAt,
      blocked: state.blocked,
      checks,
    };
  }

  private record(state: PradaState, x: Float32Array, label: number): void {
    const { maxGrowing, maxDistances } = this.options;
    if (!Number.isInteger(label) || label < 0) throw new PredictionPoisoningError("input", `prada: class ${label} is not a non-negative integer`, { field: "label" });
    let cls = state.classes.get(label);
    if (!cls) {
      cls = { threshold: 0, added: 0, growing: new Float32Array(0), grownCount: 0, grownMean: 0, grownM2: 0, recorded: 0, distances: new Float32Array(0) };
      state.classes.set(label, cls);
      addGrowing(cls, x, state.dim, maxGrowing);
      pushGrown(cls, 0);
      return;
    }
    const g = cls.growing;
    if (!g) throw new Error(`prada: the store did not load the growing set of class ${label}`);
    const size = growingSize(cls, maxGrowing);
    const d = minDistance(x, g, size, state.dim);
    // D_c: a ring of the most recent maxDistances.
    const count = distanceCount(cls, maxDistances);
    if (cls.distances.length < maxDistances && count === cls.distances.length) {
      const grown = new Float32Array(Math.min(maxDistances, Math.max(16, cls.distances.length * 2)));
      grown.set(cls.distances);
      cls.distances = grown;
    }
    cls.distances[cls.recorded % maxDistances] = d;
    cls.recorded++;
    if (d > cls.threshold) {
      addGrowing(cls, x, state.dim, maxGrowing);
      pushGrown(cls, d);
      const std = Math.sqrt(Math.max(0, cls.grownM2 / cls.grownCount));
      cls.threshold = Math.max(cls.threshold, cls.grownMean - std);
    }
  }

  /** The pooled test, or null when too few distances remain. */
  private test(state: PradaState): PradaCheck | null {
    const { minClassDistances, maxDistances, outlierSigmas, minSample, delta } = this.options;
    let total = 0;
    for (const cls of state.classes.values()) {
      const n = distanceCount(cls, maxDistances);
      if (n >= minClassDistances) total += n;
    }
    if (total <= minSample) return null;
    const pooled = new Float64Array(total);
    let at = 0;
    for (const cls of state.classes.values()) {
      const n = distanceCount(cls, maxDistances);
      if (n < minClassDistances) continue;
      for (let i = 0; i < n; i++) pooled[at++] = cls.distances[i];
    }
    let mean = 0;
    for (let i = 0; i < total; i++) mean += pooled[i];
    mean /= total;
    let ss = 0;
    for (let i = 0; i < total; i++) ss += (pooled[i] - mean) ** 2;
    const limit = outlierSigmas * Math.sqrt(ss / total);
    let kept = 0;
    for (let i = 0; i < total; i++) if (Math.abs(pooled[i] - mean) < limit) pooled[kept++] = pooled[i];
    if (kept <= minSample) return null;
    let sample = pooled.subarray(0, kept);
    if (kept > SHAPIRO_WILK_MAX_N) {
      sample.sort();
      const thin = new Float64Array(SHAPIRO_WILK_MAX_N);
      for (let i = 0; i < thin.length; i++) thin[i] = sample[Math.floor(((i + 0.5) * kept) / thin.length)];
      sample = thin;
    }
    let w: number;
    try {
      w = shapiroWilk(sample).w;
    } catch {
      return null; // every kept distance equal: no shape to test
    }
    return { query: state.queries + 1, w, n: sample.length, alarm: w < delta };
  }
}

function pushGrown(cls: PradaClassState, d: number): void {
  cls.grownCount++;
  const delta = d - cls.grownMean;
  cls.grownMean += delta / cls.grownCount;
  cls.grownM2 += delta * (d - cls.grownMean);
}

function addGrowing(cls: PradaClassState, x: Float32Array, dim: number, maxGrowing: number): void {
  let g = cls.growing!;
  const row = cls.added % maxGrowing;
  if ((row + 1) * dim > g.length) {
    const rowsNow = g.length / dim;
    const bigger = new Float32Array(Math.min(maxGrowing, Math.max(4, rowsNow * 2, row + 1)) * dim);
    bigger.set(g);
    g = bigger;
    cls.growing = g;
  }
  g.set(x, row * dim);
  cls.added++;
}

/** min over the first `rows` rows of g of ‖x − g_r‖₂ (a row stops adding once past the best so far). */
export function minDistance(x: Float32Array, g: Float32Array, rows: number, dim: number): number {
  let best = Infinity;
  for (let r = 0; r < rows; r++) {
    const off = r * dim;
    let s = 0;
    for (let i = 0; i < dim; i++) {
      const t = x[i] - g[off + i];
      s += t * t;
      if ((i & 63) === 63 && s >= best) break;
    }
    if (s < best) best = s;
  }
  return Math.sqrt(best);
}

/** The state without its arrays, as JSON-safe data (what a store keeps beside the binary growing sets and distances). */
export interface PradaMeta {
  readonly v: 1;
  readonly dim: number;
  readonly queries: number;
  readonly alarm: boolean;
  readonly w: number | null;
  readonly sample: number;
  readonly alarms: number;
  readonly firstAlarmAt: number | null;
  readonly blocked: boolean;
  /** Per class: [class, threshold, added, grownCount, grownMean, grownM2, recorded]. */
  readonly classes: readonly (readonly [number, number, number, number, number, number, number])[];
}

export function pradaMeta(state: PradaState): PradaMeta {
  return {
    v: 1,
    dim: state.dim,
    queries: state.queries,
    alarm: state.alarm,
    w: state.w,
    sample: state.sample,
    alarms: state.alarms,
    firstAlarmAt: state.firstAlarmAt,
    blocked: state.blocked,
    classes: [...state.classes].map(([c, s]) => [c, s.threshold, s.added, s.grownCount, s.grownMean, s.grownM2, s.recorded] as const),
  };
}

/** A state from its meta; each class's distances and growing set come from `arrays` (growing: undefined = not loaded). */
export function pradaStateFromMeta(
  meta: PradaMeta,
  arrays: (c: number) => { distances: Float32Array; growing?: Float32Array },
): PradaState {
  const state = newPradaState(meta.dim);
  Object.assign(state, {
    queries: meta.queries,
    alarm: meta.alarm,
    w: meta.w,
    sample: meta.sample,
    alarms: meta.alarms,
    firstAlarmAt: meta.firstAlarmAt,
    blocked: meta.blocked,
  });
  for (const [c, threshold, added, grownCount, grownMean, grownM2, recorded] of meta.classes) {
    const { distances, growing } = arrays(c);
    state.classes.set(c, { threshold, added, grownCount, grownMean, grownM2, recorded, distances, growing });
  }
  return state;
}

/**
 * Where per-client detector states live. `update` runs `fn` on the client's state (a new one when there
 * is none, or when its dim differs) and saves what changed, atomically with respect to every other update
 * of that client through this store and, for a shared store, through every replica sharing it. `fn` may
 * run more than once (a shared store retries on a conflicting write): it must only touch the state.
 */
export interface PradaStore {
  update<T>(client: string, dim: number, classes: ReadonlySet<number>, fn: (state: PradaState) => T): Promise<T>;
  /** Whether the client was blocked (state.blocked saved). */
  isBlocked(client: string): Promise<boolean>;
  /** Clients whose latest test alarmed, or that are blocked. */
  flaggedCount(): Promise<number>;
  close?(): Promise<void>;
}

/**
 * One replica's states in memory. At most `maxClients` states are kept: the least recently updated one is
 * dropped (forgotten: its detection starts over) when a new client arrives. Blocked clients are kept apart
 * (only their names, never evicted), so a block holds until restart; their states are freed.
 */
export class MemoryPradaStore implements PradaStore {
  private readonly states = new Map<string, PradaState>();
  private readonly blocked = new Set<string>();
  private readonly flagged = new Set<string>();
  readonly maxClients: number;

  constructor(options: { maxClients?: number } = {}) {
    this.maxClients = options.maxClients ?? 1000;
    if (!(Number.isInteger(this.maxClients) && this.maxClients >= 1)) throw new PradaConfigError(`prada: maxClients must be a positive integer, got ${this.maxClients}`);
  }

  /** Clients with a state in memory. */
  get size(): number {
    return this.states.size;
  }

  async update<T>(client: string, dim: number, _classes: ReadonlySet<number>, fn: (state: PradaState) => T): Promise<T> {
    if (this.blocked.has(client)) {
      const state = newPradaState(dim);
      state.blocked = true;
      return fn(state);
    }
    let state = this.states.get(client);
    if (!state || state.dim !== dim) {
      this.states.delete(client);
      state = newPradaState(dim);
      while (this.states.size >= this.maxClients) {
        const oldest = this.states.keys().next().value as string;
        this.states.delete(oldest);
        this.flagged.delete(oldest);
      }
    }
    const result = fn(state);
    this.states.delete(client); // re-inserted last: Map order is recency
    if (state.blocked) {
      this.blocked.add(client);
      this.flagged.add(client);
    } else {
      this.states.set(client, state);
      if (state.alarm) this.flagged.add(client);
      else this.flagged.delete(client);
    }
    return result;
  }

  async isBlocked(client: string): Promise<boolean> {
    return this.blocked.has(client);
  }

  async flaggedCount(): Promise<number> {
    return this.flagged.size;
  }
}
