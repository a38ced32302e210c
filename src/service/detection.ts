// Per-client detection of model stealing in the service (`serve --detect prada`): the PRADA detector
// (src/defenses/prada.ts) over a pluggable store of per-key states (memory, or Redis so replicas share a
// client), and what the service does with a verdict: `flag` only records it (a /metrics gauge of flagged
// clients, a counter of alarms, the verdict in the access log), `block` also refuses the key's later
// queries with 403. Edge-safe: no `node:` imports.
import { PradaDetector } from "../defenses/prada.js";
import type { PradaOptions, PradaStore, PradaVerdict } from "../defenses/prada.js";
import { Counter, Gauge } from "./metrics.js";
import type { ServiceMetrics } from "./metrics.js";

export type OnDetect = "flag" | "block";
export const onDetectChoices: readonly OnDetect[] = ["flag", "block"];
export const detectorNames = ["prada"] as const;
export type DetectorName = (typeof detectorNames)[number];

/** What the access log carries: never inputs, answers or keys. */
export type VerdictName = "clear" | "flagged" | "blocked";

export interface ClientVerdict {
  readonly verdict: VerdictName;
  /** W of the latest Shapiro–Wilk test (null before the first test: too few queries yet). */
  readonly w: number | null;
  /** This batch turned the alarm on. */
  readonly raised: boolean;
}

/** What the app needs from a detector. */
export interface ClientDetection {
  readonly name: DetectorName;
  readonly onDetect: OnDetect;
  /** The key was blocked (only with onDetect "block"). */
  isBlocked(client: string): Promise<boolean>;
  /** Feeds one answered batch (the inputs as sent, the labels answered) and returns the verdict. */
  observe(client: string, inputs: Float32Array, dim: number, labels: ArrayLike<number>): Promise<ClientVerdict>;
  /** Reads the shared count of flagged clients into the gauge (before /metrics renders). */
  refresh(): Promise<void>;
  close?(): Promise<void>;
}

export interface PradaDetectionOptions {
  readonly store: PradaStore;
  readonly onDetect: OnDetect;
  readonly prada?: PradaOptions;
  /** The gauge and counter are added to it. */
  readonly metrics?: ServiceMetrics;
}

export class PradaDetection implements ClientDetection {
  readonly name = "prada" as const;
  readonly onDetect: OnDetect;
  readonly detector: PradaDetector;
  readonly flaggedClients = new Gauge("pp_detect_flagged_clients", "API keys the PRADA detector currently flags (latest test alarmed, or blocked).");
  readonly detections = new Counter("pp_detections_total", "Times the PRADA detector's alarm went on for an API key (this replica).");
  private readonly store: PradaStore;

  constructor(options: PradaDetectionOptions) {
    this.store = options.store;
    this.onDetect = options.onDetect;
    if (!(onDetectChoices as readonly string[]).includes(options.onDetect)) throw new RangeError(`onDetect must be flag or block, got ${String(options.onDetect)}`);
    this.detector = new PradaDetector(options.prada);
    options.metrics?.add(this.flaggedClients);
    options.metrics?.add(this.detections);
  }

  isBlocked(client: string): Promise<boolean> {
    return this.onDetect === "block" ? this.store.isBlocked(client) : Promise.resolve(false);
  }

  /** The full verdict (for the evaluation, which drives this same code in process). */
  async observeDetailed(client: string, inputs: Float32Array, dim: number, labels: ArrayLike<number>): Promise<PradaVerdict> {
    const classes = new Set<number>();
    for (let i = 0; i < labels.length; i++) classes.add(labels[i]);
    const block = this.onDetect === "block";
    const verdict = await this.store.update(client, dim, classes, (state) => {
      const v = this.detector.observe(state, inputs, labels);
      if (block && v.flagged && !state.blocked) state.blocked = true;
      return { ...v, blocked: state.blocked };
    });
    if (verdict.raised) this.detections.inc({}, verdict.raised);
    // Only a test (every checkEvery queries) or a block changes who is flagged.
    if (verdict.checks.length || verdict.blocked) await this.refresh().catch(() => {});
    return verdict;
  }

  async observe(client: string, inputs: Float32Array, dim: number, labels: ArrayLike<number>): Promise<ClientVerdict> {
    const v = await this.observeDetailed(client, inputs, dim, labels);
    return { verdict: v.blocked ? "blocked" : v.flagged || v.alarm ? "flagged" : "clear", w: v.w, raised: v.raised > 0 };
  }

  async refresh(): Promise<void> {
    this.flaggedClients.set(await this.store.flaggedCount());
  }

  async close(): Promise<void> {
    await this.store.close?.();
  }
}
