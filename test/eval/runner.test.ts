// The runner on a tiny world: resumability (a second run recomputes nothing), caching of the victim's
// answers, and one training for thieves whose targets are identical (top-1 vs label-preserving defenses).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createDefense, type Defense } from "../../src/defenses/index.js";
import type { DefenseSetting, EvalConfig } from "../../src/eval/config.js";
import type { EvalData } from "../../src/eval/data.js";
import { runThiefJob, type ThiefJob } from "../../src/eval/jobs.js";
import type { EvalPoint } from "../../src/eval/point.js";
import { inThisThread, runEvaluation } from "../../src/eval/runner.js";
import { EvalJobsFailedError } from "../../src/eval/errors.js";
import { TrainingDivergedError } from "../../src/models/training.js";
import type { EvalSetup } from "../../src/eval/setup.js";
import { initBackend } from "../../src/models/backend.js";
import type { LabeledImages } from "../../src/models/datasets.js";
import type { InputBatch } from "../../src/models/types.js";
import { createThief } from "../../src/thieves/registry.js";
import { rowArgmax } from "../../src/models/argmax.js";
import { RecordingBlackBox, inputShape, numClasses, randomImages, tinyModel } from "../thieves/helpers.js";
import { MemoryStore } from "./memory-store.js";

await initBackend();


/** Swaps classes 0 and 1 in every answer: changes top-1 labels, so the top-1 thief must retrain. */
function swapDefense(): Defense {
  return {
    name: "swap",
    params: {},
    traits: { keepsTop1: false, needsInput: false, stateful: false, randomized: false, onSimplex: true },
    async apply(batch) {
      const out = batch.probs.slice();
      for (let r = 0; r < batch.batchSize; r++) {
        const i = r * batch.numClasses;
        [out[i], out[i + 1]] = [batch.probs[i + 1], batch.probs[i]];
      }
      return { probs: out };
    },
  };
}

const victim = new RecordingBlackBox();
/** Random images labelled by the victim itself (so the victim is 100 % accurate on them). */
function labeled(name: string, count: number, seed: number): LabeledImages {
  const { images } = randomImages(count, seed);
  return { name, images, labels: new Int32Array(count), count, inputShape, numClasses };
}

async function world() {
  const sets = { train: labeled("train", 40, 1), heldOut: labeled("heldout", 60, 2), test: labeled("test", 80, 3) };
  for (const set of Object.values(sets)) {
    const probs = await victim.predict({ data: set.images, batchSize: set.count, inputShape });
    for (let r = 0; r < set.count; r++) set.labels[r] = rowArgmax(probs, r, numClasses);
  }
  const data: EvalData = { dataset: "tiny", numClasses, inputShape, victimTrain: sets.train, heldOut: sets.heldOut, test: sets.test, pool: sets.heldOut, poolName: "tiny-heldout" };
  return data;
}

function settings(): DefenseSetting[] {
  return [
    { defense: "none", params: {}, order: 0 },
    { defense: "reverse-sigmoid", params: { beta: 0.3, gamma: 0.2 }, order: 0 },
    { defense: "swap", params: {}, order: 0 },
  ];
}

function makeSetup(data: EvalData, counters: { victimRows: number; steals: number }): EvalSetup {
  const config: EvalConfig = {
    dataset: "mnist", attacks: ["knockoff", "top1", "jbda"], settings: settings(), budget: 30, seed: 4, transfer: "heldout", heldOutSize: 60,
    victim: { arch: "mlp", epochs: 1, batchSize: 16, learningRate: 0.01, momentum: 0.5 },
    thiefParams: {},
  };
  const countingVictim = {
    inputShape, numClasses,
    async predict(batch: InputBatch) {
      counters.victimRows += batch.batchSize;
      return victim.predict(batch);
    },
  };
  const params: Record<string, Record<string, unknown>> = {
    knockoff: { epochs: 1, queryBatchSize: 16 },
    top1: { epochs: 1, queryBatchSize: 16 },
    jbda: { epochs: 1, finalEpochs: 1, seedSize: 10, queryBatchSize: 16 },
  };
  return {
    config, data, spec: { arch: "mlp", numClasses, inputShape, seed: 1 }, victimKey: "tiny-victim", victim: countingVictim, coreHash: "test-core",
    createDefense: (s) => (s.defense === "swap" ? swapDefense() : createDefense(s.defense, { ...s.params })),
    createThief(attack) {
      const thief = createThief(attack, params[attack], { buildSubstitute: tinyModel, pool: data.pool, seeds: data.heldOut });
      return { name: thief.name, params: thief.params, steal: (box, o) => { counters.steals++; return thief.steal(box, o); } };
    },
  };
}

const inProcess = (setup: EvalSetup, counter: { jobs: number }) =>
  inThisThread((job: ThiefJob) => {
    counter.jobs++;
    return runThiefJob(job, setup);
  });

const data = await world();
const store = new MemoryStore();
let first: Awaited<ReturnType<typeof runEvaluation>>;

test("a first run trains each distinct thief once: top-1 vs none and vs reverse sigmoid share one training", async () => {
  const counters = { victimRows: 0, steals: 0 };
  const jobs = { jobs: 0 };
  const setup = makeSetup(data, counters);
  first = await runEvaluation({ setup, store, execute: inProcess(setup, jobs), log: () => {} });
  assert.is(first.points.length, 9);
  // knockoff x 3, top1 x 2 (none = reverse sigmoid labels; swap differs), jbda x 3
  assert.is(first.trained, 8);
  assert.is(first.reused, 1);
  assert.is(jobs.jobs, 8);
  assert.is(counters.steals, 8);
  const top1 = first.points.filter((p) => p.attack === "top1");
  const none = top1.find((p) => p.defense === "none")!;
  const rs = top1.find((p) => p.defense === "reverse-sigmoid")!;
  assert.is(rs.thiefAccuracy, none.thiefAccuracy);
  assert.ok(rs.reusedFrom ?? none.reusedFrom);
  assert.ok(rs.l1Mean > 0, "the reused point keeps its own perturbation size");
  for (const p of first.points) {
    assert.ok(p.thiefAccuracy >= 0 && p.thiefAccuracy <= 1);
    assert.ok(p.queriesUsed <= 30);
    assert.ok(Number.isFinite(p.l1Mean) && Number.isFinite(p.klMean));
  }
  assert.is(first.points.find((p) => p.defense === "swap")!.top1Agreement < 1, true);
  assert.ok(store.files.has("results.json") && store.files.has("results.csv") && store.files.has("results.md"));
  assert.ok([...store.files.keys()].some((k) => k.startsWith("plots/") && k.endsWith(".svg")));
});

test("a second run recomputes nothing: no victim query, no steal, identical points", async () => {
  const counters = { victimRows: 0, steals: 0 };
  const jobs = { jobs: 0 };
  const setup = makeSetup(data, counters);
  const again = await runEvaluation({ setup, store, execute: inProcess(setup, jobs), log: () => {} });
  assert.is(counters.victimRows, 0);
  assert.is(counters.steals, 0);
  assert.is(jobs.jobs, 0);
  assert.is(again.resumed, 9);
  const strip = (ps: EvalPoint[]) => ps.map((p) => ({ ...p }));
  assert.equal(strip(again.points), strip(first.points));
});

test("a run with one point removed retrains exactly that point, from cached answers", async () => {
  const parsed = JSON.parse(store.files.get("results.json") as string) as { meta: unknown; points: EvalPoint[] };
  const dropped = parsed.points.filter((p) => !(p.attack === "knockoff" && p.defense === "swap"));
  store.files.set("results.json", JSON.stringify({ meta: parsed.meta, points: dropped }));
  const counters = { victimRows: 0, steals: 0 };
  const jobs = { jobs: 0 };
  const setup = makeSetup(data, counters);
  const again = await runEvaluation({ setup, store, execute: inProcess(setup, jobs), log: () => {} });
  assert.is(jobs.jobs, 1);
  assert.is(counters.victimRows, 0, "the victim's answers come from the cache");
  const redone = again.points.find((p) => p.attack === "knockoff" && p.defense === "swap")!;
  const before = first.points.find((p) => p.attack === "knockoff" && p.defense === "swap")!;
  assert.is(redone.thiefAccuracy, before.thiefAccuracy, "deterministic for the seed");
});

test("a run of fewer defenses and thieves keeps every finished point of the others in the folder", async () => {
  const counters = { victimRows: 0, steals: 0 };
  const jobs = { jobs: 0 };
  const full = makeSetup(data, counters);
  const setup: EvalSetup = { ...full, config: { ...full.config, attacks: ["top1"], settings: settings().filter((s) => s.defense === "none") } };
  const again = await runEvaluation({ setup, store, execute: inProcess(setup, jobs), log: () => {} });
  assert.is(jobs.jobs, 0);
  assert.is(again.points.length, 9, "the 8 points of other thieves and settings stay");
  const written = JSON.parse(store.files.get("results.json") as string) as { points: EvalPoint[] };
  assert.is(written.points.length, 9);
  assert.ok(written.points.some((p) => p.attack === "jbda" && p.defense === "swap"));
});

test("a results.json of another report version is not resumed", async () => {
  const saved = store.files.get("results.json") as string;
  const parsed = JSON.parse(saved) as { meta: Record<string, unknown>; points: EvalPoint[] };
  store.files.set("results.json", JSON.stringify({ meta: { ...parsed.meta, schema: 1 }, points: parsed.points }));
  const counters = { victimRows: 0, steals: 0 };
  const jobs = { jobs: 0 };
  const setup = makeSetup(data, counters);
  const again = await runEvaluation({ setup, store, execute: inProcess(setup, jobs), log: () => {} });
  assert.is(again.resumed, 0);
  assert.ok(jobs.jobs > 0);
});

test("cached answers are keyed on the budget and the seed: another budget or seed never reuses them", async () => {
  for (const change of [{ budget: 25 }, { seed: 5 }]) {
    const counters = { victimRows: 0, steals: 0 };
    const base = makeSetup(data, counters);
    const setup = { ...base, config: { ...base.config, ...change } };
    const before = new Set(store.files.keys());
    const run = await runEvaluation({ setup, store: store, execute: inProcess(setup, { jobs: 0 }), log: () => {} });
    assert.is(run.resumed, 0, JSON.stringify(change));
    assert.ok(counters.victimRows > 0, `the victim answers the new query set (${JSON.stringify(change)})`);
    const fresh = [...store.files.keys()].filter((k) => !before.has(k) && k.startsWith("cache/answers-"));
    assert.ok(fresh.length >= 3, `new answer caches for every setting (${JSON.stringify(change)})`);
    assert.ok(run.points.every((p) => p.queriesUsed <= setup.config.budget));
  }
});

test("a failed thief training is recorded and the others finish: the run throws naming it, a rerun retries only it", async () => {
  const failing = new MemoryStore();
  const counters = { victimRows: 0, steals: 0 };
  const base = makeSetup(data, counters);
  const broken: EvalSetup = {
    ...base,
    createThief(attack) {
      const thief = base.createThief(attack);
      if (attack !== "jbda") return thief;
      return {
        ...thief,
        steal: (box, o) => (o.defense?.name === "swap" ? Promise.reject(new TrainingDivergedError("training diverged: loss is Infinity")) : thief.steal(box, o)),
      };
    },
  };
  const lines: string[] = [];
  const error = await runEvaluation({ setup: broken, store: failing, execute: inProcess(broken, { jobs: 0 }), log: (l) => lines.push(l) }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(error, EvalJobsFailedError);
  assert.is((error as EvalJobsFailedError).kind, "config", "a diverged training keeps its kind");
  assert.equal((error as EvalJobsFailedError).failures.map((f) => f.job), ["jbda vs swap -"]);
  assert.ok(lines.some((l) => l.startsWith("[failed] jbda vs swap -: training diverged")));
  const written = JSON.parse(failing.files.get("results.json") as string) as { points: EvalPoint[] };
  assert.is(written.points.length, 8, "every other point is written");
  const jobs = { jobs: 0 };
  const rerun = await runEvaluation({ setup: base, store: failing, execute: inProcess(base, jobs), log: () => {} });
  assert.is(jobs.jobs, 1);
  assert.is(rerun.points.length, 9);
});

test.run();
