// One registry for every thief: a name and validated parameters in, a configured Thief out.
import { createJbda, createJblabels } from "./jbda.js";
import { createJbself } from "./jbself.js";
import { createJbtopk } from "./jbtopk.js";
import { createInvert } from "./invert.js";
import { createKnockoff } from "./knockoff.js";
import { createRecover } from "./recover.js";
import { createSmooth } from "./smooth.js";
import { ThiefConfigError } from "./parameters.js";
import type { Thief, ThiefDeps } from "./thief.js";
import { createTop1 } from "./top1.js";
import { createUnmark } from "./unmark.js";

export interface ThiefInfo {
  readonly name: string;
  readonly description: string;
  /** "pool": queries a transfer pool (Knockoff); "seeds": grows synthetic queries from a seed set. */
  readonly data: "pool" | "seeds";
  /**
   * "fixed-sample": queries exactly knockoffQueryIndices(pool, budget, seed), so an evaluation may answer
   * that sample once and replay it; "adaptive": chooses its queries as it goes (needs the live black box).
   */
  readonly queries: "fixed-sample" | "adaptive";
  /** Uses what it knows of the defense (StealOptions.defense). */
  readonly knowsDefense: boolean;
}

interface ThiefEntry extends ThiefInfo {
  create(params: Record<string, unknown>, deps: ThiefDeps): Thief;
}

const thieves: readonly ThiefEntry[] = [
  { name: "knockoff", description: "Knockoff Nets (random): a seeded sample of a transfer pool, soft labels", data: "pool", queries: "fixed-sample", knowsDefense: false, create: createKnockoff },
  { name: "top1", description: "Knockoff trained on one-hot argmax labels (beats label-preserving defenses)", data: "pool", queries: "fixed-sample", knowsDefense: false, create: createTop1 },
  { name: "jbda", description: "Jacobian-based dataset augmentation (Papernot et al. 2017)", data: "seeds", queries: "adaptive", knowsDefense: false, create: createJbda },
  { name: "jblabels", description: "JBDA trained on the top-1 labels only (in-distribution queries that label-preserving defenses cannot poison)", data: "seeds", queries: "adaptive", knowsDefense: false, create: createJblabels },
  { name: "jbself", description: "JBDA stepping towards the black box's label", data: "seeds", queries: "adaptive", knowsDefense: false, create: createJbself },
  {
    name: "jbtopk",
    description: "Targeted PGD towards the substitute's top-k other classes (k = 3)",
    data: "seeds",
    queries: "adaptive",
    knowsDefense: false,
    create: (params, deps) => createJbtopk(params, deps),
  },
  { name: "invert", description: "Kerckhoffs thief: undoes each answer with the defense's public algorithm and parameters, then trains Knockoff's copy", data: "pool", queries: "fixed-sample", knowsDefense: true, create: createInvert },
  { name: "recover", description: "D-DAE-style recovery: an MLP learns to undo the public defense on a shadow model's simulated answers", data: "pool", queries: "fixed-sample", knowsDefense: true, create: createRecover },
  {
    name: "unmark",
    description: "Watermark-aware Knockoff: lowers each class's most frequent runner-up (the public shape of class-keyed soft marks) before training",
    data: "pool",
    queries: "fixed-sample",
    knowsDefense: false,
    create: createUnmark,
  },
  { name: "smooth", description: "Averages the answers to jittered copies of each image (every copy costs a query) to beat randomised defenses", data: "pool", queries: "adaptive", knowsDefense: false, create: createSmooth },
];

/** `jbtop3`, `jbtop5`, ... are `jbtopk` with k fixed by the name. */
function resolve(name: string): { key: string; params: Record<string, unknown> } {
  const m = /^jbtop(\d+)$/.exec(name);
  if (m) return { key: "jbtopk", params: { k: Number(m[1]) } };
  return { key: name, params: {} };
}

export function thiefNames(): string[] {
  return [...thieves.map((t) => t.name), "jbtop3"];
}

/** The entry behind `name` and the parameters its name fixes; an unknown name is an error listing the known ones. */
function lookup(name: string): { key: string; entry: ThiefEntry; fixed: Record<string, unknown> } {
  const { key, params: fixed } = resolve(name);
  const entry = thieves.find((t) => t.name === key);
  if (!entry) throw new ThiefConfigError(`unknown thief "${name}" (known: ${thiefNames().join(", ")})`);
  return { key, entry, fixed };
}

export function describeThief(name: string): ThiefInfo {
  const { entry } = lookup(name);
  return { name, description: entry.description, data: entry.data, queries: entry.queries, knowsDefense: entry.knowsDefense };
}

export function createThief(name: string, params: Record<string, unknown> = {}, deps: ThiefDeps): Thief {
  const { key, entry, fixed } = lookup(name);
  if (key === "jbtopk" && name !== "jbtopk") {
    if (params.k !== undefined && params.k !== fixed.k) throw new ThiefConfigError(`thief "${name}": parameter "k" is fixed to ${fixed.k} by the name`);
    return createJbtopk({ ...params, ...fixed }, deps, name);
  }
  return entry.create(params, deps);
}
