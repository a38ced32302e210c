// The PRADA detector (src/defenses/prada.ts): the authors' algorithm where no cap binds, a seeded synthetic
// Jacobian-style thief (flagged) and honest MNIST streams (not flagged), bounded memory, the alarm not being
// sticky, the memory store's bounds and the state's round trip through its stored form.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MemoryPradaStore, PradaDetector, newPradaState, pradaMeta, pradaStateFromMeta } from "../../src/defenses/prada.js";
import type { PradaState } from "../../src/defenses/prada.js";
import { shapiroWilk } from "../../src/defenses/shapiro-wilk.js";
import { loadMnist } from "../../src/models/datasets.js";
import { seeded } from "../../src/models/random.js";

const DIM = 784;
const { test: digits } = loadMnist({ seed: 0 });
const digit = (i: number) => digits.images.subarray(i * DIM, (i + 1) * DIM);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Query = { x: Float32Array; label: number };

/** n distinct test digits in a seeded random order, labelled by their class (what a good victim predicts). */
function honestStream(n: number, seed: number): Query[] {
  const order = seeded(seed, "splitmix32").permutation(digits.count);
  return Array.from({ length: n }, (_, i) => ({ x: digit(order[i]), label: digits.labels[order[i]] }));
}

/** JBDA's shape: `seeds` digits, then rounds in which every point so far yields x + λ·s (s a seeded ±1 pattern), clipped to [0, 1]. */
function thiefStream(n: number, seed: number, seeds = 50, lambda = 0.1): Query[] {
  const random = rng(seed);
  const out = honestStream(seeds, seed + 1);
  while (out.length < n) {
    const parents = out.slice();
    for (const p of parents) {
      if (out.length >= n) break;
      const x = new Float32Array(DIM);
      for (let i = 0; i < DIM; i++) x[i] = Math.min(1, Math.max(0, p.x[i] + (random() < 0.5 ? -lambda : lambda)));
      out.push({ x, label: p.label });
    }
  }
  return out;
}

function run(detector: PradaDetector, stream: Query[], state: PradaState = newPradaState(DIM), batch = 1) {
  const checks: { query: number; w: number; alarm: boolean }[] = [];
  for (let i = 0; i < stream.length; i += batch) {
    const rows = stream.slice(i, i + batch);
    const inputs = new Float32Array(rows.length * DIM);
    rows.forEach((q, r) => inputs.set(q.x, r * DIM));
    checks.push(...detector.observe(state, inputs, rows.map((q) => q.label)).checks);
  }
  return { state, checks, first: checks.find((c) => c.alarm)?.query ?? null, alarmed: checks.filter((c) => c.alarm).length };
}

/** The authors' GrowingDistanceAgent.single_query (SSGAalto/prada-protecting-against-dnn-model-stealing-attacks, src/growing_set.py), literally: no caps. */
function reference(stream: Query[], delta: number) {
  const growing = new Map<number, Float32Array[]>();
  const grown = new Map<number, number[]>();
  const threshold = new Map<number, number>();
  const dists = new Map<number, number[]>();
  const checks: { query: number; w: number; alarm: boolean }[] = [];
  const l2 = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
  const meanStd = (a: number[]) => {
    const m = a.reduce((s, v) => s + v, 0) / a.length;
    return [m, Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length)];
  };
  stream.forEach(({ x, label }, processed) => {
    if (!growing.has(label)) {
      growing.set(label, [x]);
      threshold.set(label, 0);
      grown.set(label, [0]);
    } else {
      const d = Math.min(...growing.get(label)!.map((g) => l2(g, x)));
      if (!dists.has(label)) dists.set(label, []);
      dists.get(label)!.push(d);
      if (d > threshold.get(label)!) {
        growing.get(label)!.push(x);
        grown.get(label)!.push(d);
        const [m, s] = meanStd(grown.get(label)!);
        threshold.set(label, Math.max(m - s, threshold.get(label)!));
      }
    }
    if (processed % 10 === 0) {
      const pooled = [...dists.values()].filter((d) => d.length >= 10).flat();
      const [m, s] = meanStd(pooled);
      const kept = pooled.filter((d) => Math.abs(d - m) < 3 * s);
      if (kept.length > 100) {
        const w = shapiroWilk(kept).w;
        checks.push({ query: processed + 1, w, alarm: w < delta });
      }
    }
  });
  return checks;
}

test("without caps binding, the detector gives the authors' algorithm's tests exactly", () => {
  const stream = [...honestStream(150, 7), ...thiefStream(250, 8)];
  const ours = run(new PradaDetector({ maxGrowing: 10_000, maxDistances: 10_000 }), stream, undefined, 7).checks;
  const ref = reference(stream, 0.9);
  assert.ok(ref.length > 20, `${ref.length} tests`);
  assert.is(ours.length, ref.length);
  ours.forEach((c, i) => {
    assert.is(c.query, ref[i].query);
    assert.is(c.alarm, ref[i].alarm, `test at query ${c.query}`);
    // Distances are kept as float32 here (as they would be stored): W agrees to float32 precision.
    assert.ok(Math.abs(c.w - ref[i].w) < 1e-5, `W at ${c.query}: ${c.w} vs ${ref[i].w}`);
  });
  assert.ok(ref.some((c) => c.alarm) && ref.some((c) => !c.alarm), "the stream has both verdicts");
});

test("a synthetic Jacobian-style thief (seeded) is flagged soon after its first synthetic round, and stays flagged", () => {
  for (const seed of [1, 2, 3]) {
    const r = run(new PradaDetector(), thiefStream(800, seed));
    assert.ok(r.first !== null && r.first <= 200, `seed ${seed}: first alarm at ${r.first}`);
    const after = r.checks.filter((c) => c.query >= r.first!);
    assert.ok(r.alarmed / after.length > 0.9, `seed ${seed}: ${r.alarmed} of ${after.length} tests after the first alarm`);
    assert.ok(r.state.alarm);
    assert.ok(r.state.w! < 0.9);
  }
});

test("honest clients streaming distinct MNIST test digits in random order are never flagged", () => {
  const detector = new PradaDetector();
  for (let client = 0; client < 4; client++) {
    const r = run(detector, honestStream(1000, 100 + client), undefined, 1 + client * 5);
    assert.ok(r.checks.length >= 80, `${r.checks.length} tests`);
    assert.is(r.first, null, `client ${client}: flagged at ${r.first}`);
    assert.ok(Math.min(...r.checks.map((c) => c.w)) > 0.95);
  }
});

test("memory per client is bounded: growing sets and distances keep their most recent entries", () => {
  const detector = new PradaDetector({ maxGrowing: 8, maxDistances: 30 });
  const { state } = run(detector, honestStream(900, 3));
  let total = 0;
  for (const cls of state.classes.values()) {
    assert.ok(cls.growing!.length <= 8 * DIM, `growing set of ${cls.growing!.length / DIM}`);
    assert.ok(cls.distances.length <= 30);
    assert.ok(cls.added > 8 && cls.recorded > 30, "caps were reached");
    total += cls.recorded;
  }
  assert.is(total + state.classes.size, 900, "every query but each class's first left a distance");
  assert.is(state.queries, 900);
});

test("the alarm is not sticky: once honest queries replace the thief's distances, it clears", () => {
  const detector = new PradaDetector({ maxDistances: 40 });
  const state = run(detector, thiefStream(400, 5)).state;
  assert.ok(state.alarm, "flagged as a thief");
  const after = run(detector, honestStream(1000, 11), state);
  assert.not.ok(after.state.alarm, `W ${after.state.w}`);
  assert.ok(after.state.alarms >= 1);
  assert.ok(after.state.firstAlarmAt !== null && after.state.firstAlarmAt <= 400);
});

test("a blocked state is left alone", () => {
  const detector = new PradaDetector();
  const state = newPradaState(DIM);
  state.blocked = true;
  const v = detector.observe(state, digit(0).slice(), [3]);
  assert.is(v.blocked, true);
  assert.is(state.queries, 0);
});

test("the stored form (meta JSON + arrays) continues exactly like the live state", () => {
  const detector = new PradaDetector({ maxGrowing: 20, maxDistances: 50 });
  const stream = thiefStream(500, 9);
  const live = run(detector, stream.slice(0, 300)).state;
  const meta = JSON.parse(JSON.stringify(pradaMeta(live)));
  const copy = pradaStateFromMeta(meta, (c) => ({
    distances: live.classes.get(c)!.distances.slice(0, Math.min(live.classes.get(c)!.recorded, 50)),
    growing: live.classes.get(c)!.growing!.slice(0, Math.min(live.classes.get(c)!.added, 20) * DIM),
  }));
  const a = run(detector, stream.slice(300), live).checks;
  const b = run(detector, stream.slice(300), copy).checks;
  assert.equal(b, a);
});

test("the memory store keeps at most maxClients states (least recently updated dropped); blocks are kept", async () => {
  const store = new MemoryPradaStore({ maxClients: 3 });
  const detector = new PradaDetector();
  const feed = (client: string, q: Query[]) =>
    store.update(client, DIM, new Set(q.map((r) => r.label)), (s) => {
      const inputs = new Float32Array(q.length * DIM);
      q.forEach((r, i) => inputs.set(r.x, i * DIM));
      const v = detector.observe(s, inputs, q.map((r) => r.label));
      if (v.flagged) s.blocked = true;
      return v;
    });
  const thief = thiefStream(300, 4);
  for (let i = 0; i < 300; i += 30) await feed("thief", thief.slice(i, i + 30));
  assert.ok(await store.isBlocked("thief"));
  assert.is(await store.flaggedCount(), 1);
  for (const c of ["a", "b", "c", "d"]) await feed(c, honestStream(20, c.charCodeAt(0)));
  assert.is(store.size, 3, "three states in memory");
  assert.ok(await store.isBlocked("thief"), "the block outlives eviction");
  const v = await feed("thief", honestStream(5, 1));
  assert.is(v.blocked, true);
  assert.is(await store.flaggedCount(), 1);
});

test("options are validated", () => {
  assert.throws(() => new PradaDetector({ delta: 1 }), /delta/);
  assert.throws(() => new PradaDetector({ maxGrowing: 0 }), /maxGrowing/);
  assert.throws(() => new MemoryPradaStore({ maxClients: 0 }), /maxClients/);
  assert.throws(() => new PradaDetector().observe(newPradaState(4), new Float32Array(3), [0]), /input values/);
});

test.run();
