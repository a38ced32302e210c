import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeCombinedReport } from "../../src/eval/combined.js";
import type { EvalPoint } from "../../src/eval/point.js";
import type { EvalStore, RunSummary } from "../../src/eval/runner.js";

class MemoryStore implements EvalStore {
  readonly files = new Map<string, string>();
  async readText(name: string) {
    return this.files.get(name) ?? null;
  }
  async writeText(name: string, text: string) {
    this.files.set(name, text);
  }
  async readFloats() {
    return null;
  }
  async writeFloats() {}
  where(name: string) {
    return `mem:${name}`;
  }
}

function point(threat: string, attack: string, defense: string, epsilon: number | null, thief: number, defender: number): EvalPoint {
  const params = epsilon === null ? {} : { epsilon };
  return {
    dataset: "mnist", threat, attack, defense, params, setting: epsilon === null ? "-" : `epsilon=${epsilon}`, order: 0, budget: 100, seed: 0,
    thiefAccuracy: thief, fidelity: thief, defenderAccuracy: defender, victimAccuracy: 0.96,
    l1Mean: 0, l1Std: 0, l2Mean: 0, l2Std: 0, klMean: 0, klStd: 0, top1Agreement: 1, top1MarginMean: 0.5, top1MarginBelow001: 0,
    targetL1Mean: 0, targetsRecovered: 1, diagnostics: null, queriesUsed: 100, seconds: 1,
    transferSet: threat === "in-distribution" ? "mnist-heldout" : "fashion-mnist", trainingDataHash: "", reusedFrom: null, thiefParams: {}, defenseParams: params,
  };
}

function summary(threat: string, points: EvalPoint[]): RunSummary {
  const meta = { dataset: "mnist", budget: 100, transferSet: points[0].transferSet, victimAccuracy: 0.96, threat, undefendedThieves: "knockoff 90.0 %" };
  return { points, meta, trained: points.length, reused: 0, resumed: 0, markdown: "", plots: [] };
}

test("the combined report holds every threat's points, the headline per threat and defense, and worst-case plots per threat", async () => {
  const store = new MemoryStore();
  const inside = [point("in-distribution", "knockoff", "none", null, 0.9, 0.96), point("in-distribution", "top1", "none", null, 0.88, 0.96),
    point("in-distribution", "knockoff", "mad", 1, 0.3, 0.955), point("in-distribution", "top1", "mad", 1, 0.85, 0.955)];
  const outside = [point("out-of-distribution", "knockoff", "none", null, 0.5, 0.96), point("out-of-distribution", "knockoff", "mad", 1, 0.2, 0.955)];
  const report = await writeCombinedReport(store, [{ folder: "in-distribution", summary: summary("in-distribution", inside) }, { folder: "out-of-distribution", summary: summary("out-of-distribution", outside) }], { preset: "protection", totalSeconds: 3 });
  const json = JSON.parse(store.files.get("results.json")!) as { meta: { threats: unknown[] }; points: EvalPoint[] };
  assert.is(json.points.length, 6);
  assert.is(json.meta.threats.length, 2);
  assert.ok(report.markdown.includes("| in-distribution | mad | epsilon=1 | 95.5 | **85.0** (top1) | 90.0 |"), report.markdown);
  assert.ok(report.markdown.includes("| out-of-distribution | mad | epsilon=1 | 95.5 | **20.0** (knockoff) | 50.0 |"), report.markdown);
  const names = [...store.files.keys()].filter((k) => k.startsWith("plots/")).sort();
  assert.ok(names.includes("plots/in-distribution/worst-case-vs-defender.svg"));
  assert.ok(names.includes("plots/out-of-distribution/worst-case-vs-defender.svg"));
  assert.ok(store.files.get("results.csv")!.split("\n")[0].includes("threat"));
});

test.run();
