// What an evaluation run is: the dataset, the thieves, the defense settings (a grid), the budget, and
// the victim's and thieves' training. Presets are named configurations sized for a 2-core machine.
import type { Architecture } from "../models/zoo.js";
import { EvalConfigError } from "./errors.js";

export interface DefenseSetting {
  readonly defense: string;
  /** Parameters given explicitly (the swept ones and any fixed ones); the defense fills in defaults. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Position in this defense's sweep. */
  readonly order: number;
  /** The watermark around the defense (the watermark evaluation; absent: none). */
  readonly watermark?: WatermarkSetting;
}

/** DAWN label marks at `rate`, and soft marks (top-1 kept) at `softRate` moving at most `softMass` (src/defenses/watermark.ts). */
export interface WatermarkSetting {
  readonly rate: number;
  readonly softRate?: number;
  readonly softMass?: number;
  readonly softKeying?: "class" | "input";
  readonly labelKeying?: "class" | "input";
}

export interface VictimConfig {
  readonly arch: Architecture;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly momentum: number;
}

export type TransferChoice = "auto" | "fashion-mnist" | "heldout" | "mnist";

/**
 * A user's own victim and data (evaluate --victim): references the environment resolves (Node: paths),
 * so worker threads load the same files.
 */
export interface UserRunConfig {
  /** A tfjs model (LayersModel or GraphModel). */
  readonly victim: string;
  readonly outputs: "logits" | "probabilities";
  /** The test set: labelled, or unlabeled (then accuracies are agreement with the victim's top-1). */
  readonly test: string;
  /** Knockoff's query pool. */
  readonly transfer: string;
  /** The JB thieves' seeds; absent: a seeded share of the test set (at most heldOutSize), withheld from it. */
  readonly seeds?: string;
  /** The thieves' architecture (and MAD's scratch proxy's); absent: the victim's own when known (victim.json), else chosen from the input shape. */
  readonly thiefArch?: Architecture;
  /** MAD's proxy: a trained LayersModel (logits out); absent: a scratch model of the thieves' architecture. */
  readonly proxyModel?: string;
}

export interface EvalConfig {
  /** "user": a user's own victim and data, described by `user`. */
  readonly dataset: "mnist" | "fashion-mnist" | "user";
  readonly user?: UserRunConfig;
  readonly attacks: readonly string[];
  readonly settings: readonly DefenseSetting[];
  readonly budget: number;
  /** The run seed: every random role (split, victim, proxy, thieves) derives its own from it (seeds.ts). */
  readonly seed: number;
  /** Knockoff's query pool: "auto" = Fashion-MNIST for an MNIST victim when installed, else held-out digits. */
  readonly transfer: TransferChoice;
  /** Images withheld from the victim: the JB seed pool and the in-distribution transfer pool. */
  readonly heldOutSize: number;
  /** Where the held-out images come from (default "train"); "test": the victim trains on every training image. */
  readonly heldOutFrom?: "train" | "test";
  readonly victim: VictimConfig;
  /** Per-thief parameter overrides (e.g. fewer epochs in the quick preset). */
  readonly thiefParams: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly preset?: string;
  /** Names the threat setting in reports; default: from the query pool (held-out data: "in-distribution"). */
  readonly threat?: string;
}

/** The threat setting of a run: the thief's queries look like honest traffic (held-out data) or do not. */
export function threatOf(config: Pick<EvalConfig, "threat">, poolName: string): string {
  return config.threat ?? (poolName.endsWith("heldout") ? "in-distribution" : "out-of-distribution");
}

/** A defense grid: per defense, each parameter's list of values (the cartesian product is swept). */
export type DefenseGrid = Readonly<Record<string, Readonly<Record<string, readonly unknown[]>>>>;

export function expandGrid(defenses: readonly string[], grid: DefenseGrid): DefenseSetting[] {
  const settings: DefenseSetting[] = [];
  for (const defense of defenses) {
    const axes = Object.entries(grid[defense] ?? {});
    let combos: Record<string, unknown>[] = [{}];
    for (const [name, values] of axes) {
      if (values.length === 0) throw new EvalConfigError(`grid for "${defense}": parameter "${name}" has no values`);
      combos = combos.flatMap((c) => values.map((value) => ({ ...c, [name]: value })));
    }
    combos.forEach((params, order) => settings.push({ defense, params, order }));
  }
  return settings;
}

/** Parses "mad:epsilon=0.1,0.5,1:step=linesearch" into the grid entry for one defense (values as strings). */
export function parseGridEntry(text: string): { defense: string; params: Record<string, string[]> } {
  const [defense, ...parts] = text.split(":");
  if (!defense) throw new EvalConfigError(`grid entry "${text}": expected DEFENSE:PARAM=V1,V2[:PARAM=V...]`);
  const params: Record<string, string[]> = {};
  for (const part of parts) {
    const eq = part.indexOf("=");
    if (eq <= 0 || eq === part.length - 1) throw new EvalConfigError(`grid entry "${text}": "${part}" is not PARAM=V1,V2,...`);
    params[part.slice(0, eq)] = part.slice(eq + 1).split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  }
  return { defense, params };
}

const defaultVictim: VictimConfig = { arch: "lenet", epochs: 8, batchSize: 64, learningRate: 0.01, momentum: 0.5 };

/** A preset's watermark evaluation. */
export interface WatermarkEvaluation {
  /** Share of queries watermarked (the `serve --watermark` rate). */
  readonly rate: number;
  /** Share of queries given a soft mark (`serve --watermark-soft`); default 0. */
  readonly softRate?: number;
  /** Largest mass a soft mark moves (`serve --watermark-soft-mass`); default the defense's. */
  readonly softMass?: number;
  /** How a soft mark's class is keyed (`serve --watermark-soft-keying`); default "class". */
  readonly softKeying?: "class" | "input";
  /** How a label mark's class is keyed (`serve --watermark-keying`); default "input" (DAWN). */
  readonly labelKeying?: "class" | "input";
  /** Verification queries per suspect (`verify --max-queries`). */
  readonly maxQueries: number;
  /** A thief counts as identified at p ≤ alpha. */
  readonly alpha: number;
  /** A clean copy counts as (falsely) identified at p ≤ controlAlpha. */
  readonly controlAlpha: number;
  readonly cleanCopies: number;
  /**
   * These fixed-sample thieves also run trained to fit their answers (`epochs` epochs instead of the
   * preset's), with as many clean copies trained as long: DAWN needs a thief that memorises its labels.
   */
  readonly fitted?: { readonly attacks: readonly string[]; readonly epochs: number; readonly cleanCopies: number };
  /** Per threat setting (by name), the thieves; default: that setting's thieves. */
  readonly attacks?: Readonly<Record<string, readonly string[]>>;
}

/** One threat setting of a preset: where the thief's queries come from, and which thieves and budget apply. */
export interface ThreatSetting {
  readonly name: string;
  readonly transfer: TransferChoice;
  /** Default: the preset's attacks. */
  readonly attacks?: readonly string[];
  /** Default: the preset's budget. */
  readonly budget?: number;
}

export interface Preset {
  readonly description: string;
  readonly config: Omit<EvalConfig, "settings"> & {
    readonly defenses: readonly string[];
    readonly grid: DefenseGrid;
    /** Settings beyond the grid's product (e.g. keyed variants), appended to their defense's sweep. */
    readonly extraSettings?: readonly DefenseSetting[];
  };
  /** Several threat settings, each run into its own folder and reported together (default: one, from `transfer`). */
  readonly threats?: readonly ThreatSetting[];
  /** Also run the watermark evaluation in each threat setting (into its folder's watermark/). */
  readonly watermark?: WatermarkEvaluation;
}

/** The run of each threat setting: the base configuration with that setting's pool, thieves and budget. */
export function threatConfigs(config: EvalConfig, threats: readonly ThreatSetting[] | undefined): EvalConfig[] {
  if (!threats || threats.length === 0) return [config];
  return threats.map((t) => ({ ...config, threat: t.name, transfer: t.transfer, attacks: t.attacks ?? config.attacks, budget: t.budget ?? config.budget }));
}

/** The paper's sweeps at this project's scale (MAD.md sections 5-7, EVAL.md). */
const paperGrid: DefenseGrid = {
  mad: { epsilon: [0.1, 0.25, 0.5, 0.75, 0.9] },
  "mad-argmax": { epsilon: [0.25, 0.5, 1.0, 1.5, 2.0] },
  "reverse-sigmoid": { beta: [0.1, 0.2, 0.5, 0.75, 1.0], gamma: [0.2] },
  "random-noise": { epsilon: [5, 15, 40, 100, 300] },
  "modelguard-w": { epsilon: [0.25, 0.5, 1.0, 2.0] },
};

/** Three settings per defense, from harmless to costly, for the worst-case matrix. */
const protectionGrid: DefenseGrid = {
  mad: { epsilon: [0.25, 0.5, 0.9] },
  "mad-argmax": { epsilon: [0.5, 1.0, 2.0] },
  "reverse-sigmoid": { beta: [0.2, 0.5, 1.0], gamma: [0.2] },
  "random-noise": { epsilon: [15, 40, 100] },
  "modelguard-w": { epsilon: [0.5, 1.0, 2.0] },
  // Below 1 so that a confident answer keeps its top-1 (GRAD² moves ε/2 into one class).
  grad2: { epsilon: [0.25, 0.5, 0.9] },
  // The score threshold: answers of inputs the outlier-exposed scorer is less sure of than τ are misinformation.
  "adaptive-misinformation": { tau: [0.3, 0.4, 0.5] },
  "modelguard-s": { epsilon: [0.05, 0.2, 0.5] },
};

/** Keyed MAD-argmax (a secret key picks part of each answer): the key defeats inversion; see docs/DEFENSES.md. */
const keyedSettings: readonly DefenseSetting[] = [
  { defense: "mad-argmax", params: { epsilon: 1.0, keyMix: 0.5 }, order: 3 },
  { defense: "mad-argmax", params: { epsilon: 2.0, keyMix: 0.5 }, order: 4 },
];

/** The grid's product and then the extra settings of the chosen defenses. */
export function presetSettings(defenses: readonly string[], grid: DefenseGrid, extra: readonly DefenseSetting[] = []): DefenseSetting[] {
  return [...expandGrid(defenses, grid), ...extra.filter((s) => defenses.includes(s.defense))];
}

export const presets: Readonly<Record<string, Preset>> = {
  quick: {
    description: "npm start: MNIST, knockoff/jbtop3/top1 against 4 defenses at 3 settings each, a small budget (< 10 min on 2 cores)",
    config: {
      dataset: "mnist",
      attacks: ["knockoff", "top1", "invert", "recover", "jbtop3"],
      defenses: ["none", "mad", "mad-argmax", "reverse-sigmoid", "random-noise"],
      grid: {
        mad: { epsilon: [0.25, 0.5, 0.9] },
        "mad-argmax": { epsilon: [0.5, 1.0, 2.0] },
        "reverse-sigmoid": { beta: [0.2, 0.5, 1.0], gamma: [0.2] },
        "random-noise": { epsilon: [15, 40, 300] },
      },
      budget: 1000,
      seed: 0,
      // An in-distribution pool keeps the quick thief strong (EVAL.md); the paper preset uses "auto".
      transfer: "heldout",
      heldOutSize: 2000,
      victim: defaultVictim,
      // Fewer epochs than the reference (30 and 20/100) so the thief trainings fit in minutes.
      thiefParams: {
        knockoff: { epochs: 8 },
        top1: { epochs: 8 },
        invert: { epochs: 8 },
        recover: { epochs: 8 },
        // Not in the preset's attacks; the same size when a user adds it.
        smooth: { epochs: 8 },
        jbtop3: { epochs: 6, finalEpochs: 8 },
      },
      preset: "quick",
    },
  },
  protection: {
    description:
      "the worst-case matrix: every thief (naive and defense-aware) against 9 defenses at 3 settings each (and keyed MAD-argmax), in-distribution and out-of-distribution queries, and the watermark evaluation (about 3 h on 2 cores; resumable)",
    config: {
      dataset: "mnist",
      attacks: ["knockoff", "top1", "invert", "recover", "smooth", "jbtop3", "jblabels"],
      defenses: ["none", "mad", "mad-argmax", "reverse-sigmoid", "random-noise", "modelguard-w", "grad2", "adaptive-misinformation", "modelguard-s"],
      grid: protectionGrid,
      extraSettings: keyedSettings,
      budget: 1000,
      seed: 0,
      transfer: "heldout",
      heldOutSize: 2000,
      victim: defaultVictim,
      thiefParams: {
        knockoff: { epochs: 8 },
        top1: { epochs: 8 },
        invert: { epochs: 8 },
        recover: { epochs: 8 },
        smooth: { epochs: 8 },
        jbtop3: { epochs: 10, finalEpochs: 10 },
        // The label-only Jacobian thief (JBDA trained on top-1), sized like jbtop3.
        jblabels: { epochs: 10, finalEpochs: 10 },
        // The watermark evaluation's other Jacobian thieves, sized like jbtop3.
        jbda: { epochs: 10, finalEpochs: 10 },
        jbself: { epochs: 10, finalEpochs: 10 },
        unmark: { epochs: 8 },
      },
      preset: "protection",
    },
    watermark: {
      rate: 0.01,
      // Half the answers keep their top-1 but carry a class-keyed soft mark (docs/RESULTS.md: 0.1 was too weak).
      softRate: 0.5,
      softMass: 0.25,
      maxQueries: 200,
      alpha: 1e-6,
      controlAlpha: 1e-3,
      cleanCopies: 10,
      fitted: { attacks: ["knockoff", "top1"], epochs: 60, cleanCopies: 3 },
      attacks: {
        // unmark: the watermark-aware thief (takes class-keyed soft marks back out before training).
        "in-distribution": ["knockoff", "top1", "invert", "recover", "smooth", "jbtop3", "jbda", "jbself", "unmark"],
        "out-of-distribution": ["knockoff", "top1", "invert", "recover", "smooth", "unmark"],
      },
    },
    threats: [
      { name: "in-distribution", transfer: "heldout" },
      // Knockoff Nets' setting: natural images of another domain; the JB thieves need in-distribution seeds.
      { name: "out-of-distribution", transfer: "fashion-mnist", attacks: ["knockoff", "top1", "invert", "recover", "smooth"], budget: 5000 },
    ],
  },
  "fashion-paper": {
    description:
      "the paper's Fashion-MNIST scale: a LeNet victim on all 60,000 training images, the paper's four thieves, the defense-aware ones and the label-only JB thief at 10,000 queries of MNIST digits (pool thieves) or grown from 100 seeds out of the last 500 test images (JB), against the protection preset's worst-case matrix (about 3.5 h on 2 cores; resumable)",
    config: {
      dataset: "fashion-mnist",
      attacks: ["knockoff", "jbda", "jbself", "jbtop3", "jblabels", "top1", "invert", "recover", "smooth"],
      defenses: ["none", "mad", "mad-argmax", "reverse-sigmoid", "random-noise", "modelguard-w", "grad2", "adaptive-misinformation", "modelguard-s"],
      grid: protectionGrid,
      extraSettings: keyedSettings,
      budget: 10000,
      seed: 0,
      // The paper's Knockoff pool for Fashion-MNIST is EMNIST; MNIST digits are the nearest installed set.
      transfer: "mnist",
      // The victim trains on all 60,000 training images; the JB seeds come from the last 500 test images.
      heldOutSize: 500,
      heldOutFrom: "test",
      // The reference trains its victims 30 epochs at lr 0.1; 12 epochs at momentum 0.9 fit the time.
      victim: { arch: "lenet", epochs: 12, batchSize: 64, learningRate: 0.01, momentum: 0.9 },
      // The reference: 30 epochs (Knockoff), 20 per round and 100 final (JB). Sized so 243 points fit in ~4 h.
      thiefParams: {
        knockoff: { epochs: 5 },
        top1: { epochs: 5 },
        invert: { epochs: 5 },
        recover: { epochs: 5 },
        smooth: { epochs: 5 },
        jbda: { epochs: 4, finalEpochs: 8 },
        jbself: { epochs: 4, finalEpochs: 8 },
        jbtop3: { epochs: 4, finalEpochs: 8 },
        // The pool thieves query MNIST digits here: jblabels is the in-distribution top-1 thief.
        jblabels: { epochs: 4, finalEpochs: 8 },
      },
      preset: "fashion-paper",
    },
  },
  paper: {
    description: "all five thieves against every defense along the paper's sweeps, 5,000 queries (the paper: 50,000); many hours on 2 cores",
    config: {
      dataset: "mnist",
      attacks: ["knockoff", "top1", "jbda", "jbself", "jbtop3"],
      defenses: ["none", "mad", "mad-argmax", "reverse-sigmoid", "random-noise", "modelguard-w"],
      grid: paperGrid,
      budget: 5000,
      seed: 0,
      transfer: "auto",
      heldOutSize: 2000,
      victim: defaultVictim,
      thiefParams: {
        knockoff: { epochs: 30 },
        top1: { epochs: 30 },
        jbda: { epochs: 10, finalEpochs: 30 },
        jbself: { epochs: 10, finalEpochs: 30 },
        jbtop3: { epochs: 10, finalEpochs: 30 },
      },
      preset: "paper",
    },
  },
};

export function presetConfig(name: string): EvalConfig {
  const preset = presets[name];
  if (!preset) throw new EvalConfigError(`unknown preset "${name}" (known: ${Object.keys(presets).join(", ")})`);
  const { defenses, grid, extraSettings, ...rest } = preset.config;
  return { ...rest, settings: presetSettings(defenses, grid, extraSettings) };
}
