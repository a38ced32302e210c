// The core check every runtime runs on itself: MAD-argmax and reverse sigmoid, built by name through the
// package's edge entry, perturb one fixed batch; the invariants are checked where the answer was computed,
// and the answers come back as plain numbers so the Node test can compare runtimes with each other.
import { createDefense, type Core } from "../../../src/index.js";

export const K = 5;
/** Four rows of victim probabilities (a confident row, a near tie, a flat row, a one-hot row). */
export const victimRows = [
  [0.62, 0.18, 0.1, 0.06, 0.04],
  [0.34, 0.33, 0.2, 0.08, 0.05],
  [0.2, 0.2, 0.2, 0.2, 0.2],
  [1, 0, 0, 0, 0],
];
/** The proxy's softmax for the same rows (MAD's view of the thief's gradient). */
export const proxyRows = [
  [0.3, 0.3, 0.2, 0.1, 0.1],
  [0.1, 0.5, 0.2, 0.1, 0.1],
  [0.05, 0.15, 0.4, 0.3, 0.1],
  [0.6, 0.1, 0.1, 0.1, 0.1],
];
const MAD_EPSILON = 0.5;
export const defenses = [
  { name: "mad-argmax", params: { epsilon: MAD_EPSILON } },
  { name: "reverse-sigmoid", params: { beta: 0.5, gamma: 0.2 } },
] as const;

export interface DefenseAnswer {
  readonly name: string;
  readonly keepsTop1: boolean;
  /** B x K, row-major. */
  readonly probs: number[];
}

export interface CoreCheckReport {
  readonly runtime: string;
  readonly answers: DefenseAnswer[];
  /** Invariants that did not hold, checked inside the runtime; empty when all did. */
  readonly failures: string[];
}

const argmax = (row: ArrayLike<number>) => {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
  return best;
};

/** What runs where: "deno 2.9.6", "bun 1.4.5", "workerd", "node v20.20.2". */
export function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string }; navigator?: { userAgent?: string }; process?: { version?: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  if (g.navigator?.userAgent === "Cloudflare-Workers") return "workerd";
  return `node ${g.process?.version ?? "?"}`;
}

export async function runCoreCheck(core: Core): Promise<CoreCheckReport> {
  const B = victimRows.length;
  const probs = Float32Array.from(victimRows.flat());
  const proxyProbs = Float32Array.from(proxyRows.flat());
  const failures: string[] = [];
  const answers: DefenseAnswer[] = [];
  for (const { name, params } of defenses) {
    const defense = createDefense(name, params, { core });
    const out = (await defense.apply({ probs, batchSize: B, numClasses: K, proxyProbs })).probs;
    for (let b = 0; b < B; b++) {
      const row = out.subarray(b * K, (b + 1) * K);
      const sum = row.reduce((s, p) => s + p, 0);
      if (!row.every((p) => Number.isFinite(p) && p >= 0)) failures.push(`${name} row ${b}: not finite and non-negative: [${row.join(", ")}]`);
      if (Math.abs(sum - 1) > 1e-5) failures.push(`${name} row ${b}: sums to ${sum}, not 1`);
      if (defense.traits.keepsTop1 && argmax(row) !== argmax(victimRows[b])) failures.push(`${name} row ${b}: top-1 ${argmax(row)}, the victim's is ${argmax(victimRows[b])}`);
      const l1 = row.reduce((s, p, k) => s + Math.abs(p - victimRows[b][k]), 0);
      if (name === "mad-argmax" && l1 > MAD_EPSILON + 1e-5) failures.push(`${name} row ${b}: L1 ${l1} over ε = ${MAD_EPSILON}`);
    }
    answers.push({ name, keepsTop1: defense.traits.keepsTop1, probs: Array.from(out) });
  }
  return { runtime: runtimeName(), answers, failures };
}
