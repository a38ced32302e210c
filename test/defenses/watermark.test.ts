// The DAWN watermark wrapper (src/defenses/watermark.ts) and the binomial tail of `verify`
// (src/defenses/binomial.ts): deterministic, rate close to RATE, watermarked rows' strict top-1 is the keyed
// wrong class, other rows untouched, same key same answers, another key another selection; the tail against
// exact BigInt sums.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createDefense, type WatermarkRecord } from "../../src/defenses/index.js";
import { createWatermarker, softMarkRow, watermarkClass, watermarkRow, withWatermark } from "../../src/defenses/watermark.js";
import { loadCore } from "../../src/core/index.js";
import { binomialTail, logBinomialTail } from "../../src/defenses/binomial.js";
import { distinctEntries as distinct, logClassKeyedTail, verifyWatermark, type WatermarkEntry } from "../../src/defenses/watermark-verify.js";
import { argmax, lcg, randomRows } from "./helpers.js";

const KEY = "77617465726d61726b2074657374206b6579";
const OTHER_KEY = "77617465726d61726b2074657374206b6580";
const K = 10;
const SHAPE = [4, 4, 1];
const SIZE = 16;
const N = 5000;
const RATE = 0.05;

const core = await loadCore();
const random = lcg(7);
const inputs = Float32Array.from({ length: N * SIZE }, () => Math.round(random() * 255) / 255);
const victim = randomRows(N, K, 11);
const batch = { probs: victim, batchSize: N, numClasses: K, inputs: { data: inputs, batchSize: N, inputShape: SHAPE } };

async function answer(key: string, defense = "none", params: Record<string, unknown> = {}, into?: WatermarkRecord[]) {
  const d = withWatermark(createDefense(defense, params, { core }), { key, rate: RATE, onWatermark: into ? (r) => void into.push(...r) : undefined });
  return (await d.apply(batch)).probs;
}

test("watermark: about RATE of 5,000 inputs, each with the keyed wrong class as strict top-1 on the simplex; the others untouched", async () => {
  const records: WatermarkRecord[] = [];
  const probs = await answer(KEY, "none", {}, records);
  const marker = createWatermarker(KEY, RATE);
  let marked = 0;
  for (let i = 0; i < N; i++) {
    const row = probs.subarray(i * K, (i + 1) * K);
    const y = victim.subarray(i * K, (i + 1) * K);
    const draw = await marker.draw(inputs.subarray(i * SIZE, (i + 1) * SIZE), SHAPE, K);
    if (!draw.selected) {
      assert.equal(Array.from(row), Array.from(y), `row ${i} untouched`);
      continue;
    }
    marked++;
    const w = watermarkClass(argmax(y), draw.offset);
    assert.is.not(w, argmax(y));
    assert.is(argmax(row), w, `row ${i}: top-1 is the watermark class`);
    assert.ok(row.every((p, k) => k === w || p < row[w]), `row ${i}: strict top-1`);
    assert.ok(Math.abs(row.reduce((s, p) => s + p, 0) - 1) < 1e-5 && row.every((p) => p >= 0), `row ${i} on the simplex`);
  }
  const rate = marked / N;
  // Binomial(5000, 0.05): sd 0.0031; 4 sd.
  assert.ok(Math.abs(rate - RATE) < 0.0125, `watermarked ${rate}`);
  assert.is(records.length, marked, "every watermarked row reported to the log");
  assert.ok(records.every((r) => r.label !== r.victimLabel && r.input.length === SIZE && r.numClasses === K));
  console.log(`  watermarked ${marked} of ${N} (${(100 * rate).toFixed(2)} %, rate ${RATE})`);
});

test("watermark: deterministic; same key same answers (another instance), another key another selection", async () => {
  const a = await answer(KEY);
  const b = await answer(KEY);
  assert.equal(Array.from(b), Array.from(a));
  const c = await answer(OTHER_KEY);
  const top = (p: Float32Array) => Array.from({ length: N }, (_, i) => argmax(p.subarray(i * K, (i + 1) * K)));
  const truth = top(victim);
  const markedA = new Set(top(a).flatMap((l, i) => (l !== truth[i] ? [i] : [])));
  const markedC = new Set(top(c).flatMap((l, i) => (l !== truth[i] ? [i] : [])));
  const both = [...markedA].filter((i) => markedC.has(i)).length;
  assert.ok(markedC.size > 150 && both < 0.25 * markedA.size, `overlap ${both} of ${markedA.size} and ${markedC.size}`);
});

test("watermark: wraps any defense (reverse-sigmoid, random-noise: their answers elsewhere, the same watermark class); ties resolved halfway to e_w", async () => {
  for (const [name, params] of [["reverse-sigmoid", { beta: 0.5, gamma: 0.2 }], ["random-noise", { seed: 1, epsilon: 0.3 }]] as const) {
    const inner = await createDefense(name, params, { core }).apply(batch);
    const wrapped = await answer(KEY, name, params);
    const plain = await answer(KEY);
    let marked = 0;
    for (let i = 0; i < N; i++) {
      const row = wrapped.subarray(i * K, (i + 1) * K);
      const innerRow = inner.probs.subarray(i * K, (i + 1) * K);
      const plainTop = argmax(plain.subarray(i * K, (i + 1) * K));
      if (plainTop !== argmax(victim.subarray(i * K, (i + 1) * K))) {
        marked++;
        assert.is(argmax(row), plainTop, `${name} row ${i}: the same watermark class whatever the defense`);
      } else assert.equal(Array.from(row), Array.from(innerRow));
    }
    assert.ok(marked > 150);
  }
  const tie = watermarkRow([0.25, 0.25, 0.25, 0.25], 2);
  assert.equal(Array.from(tie), [0.125, 0.125, 0.625, 0.125]);
  const swapped = watermarkRow([0.1, 0.6, 0.3], 0);
  assert.equal(Array.from(swapped).map((v) => +v.toFixed(6)), [0.6, 0.1, 0.3]);
});

test("watermark: needs the inputs; rate and key validated", async () => {
  const d = withWatermark(createDefense("none", {}), { key: KEY, rate: 0.1 });
  assert.ok(d.traits.keyed && !d.traits.keepsTop1 && !d.traits.needsInput, "needsInput stays the inner defense's");
  try {
    await d.apply({ probs: victim.subarray(0, K), batchSize: 1, numClasses: K });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /inputs/);
  }
  assert.throws(() => withWatermark(createDefense("none", {}), { key: "abc", rate: 0.1 }), /hex/);
  assert.throws(() => withWatermark(createDefense("none", {}), { key: KEY, rate: 1 }), /rate/);
  assert.not.ok(JSON.stringify(d.params).includes(KEY));
});

/** P[X ≥ k] for Binomial(n, a/b) exactly, as a BigInt fraction num / b^n; returned as log10. */
function exactLog10Tail(k: number, n: number, a: bigint, b: bigint): number {
  let num = 0n;
  let c = 1n; // C(n, i)
  for (let i = 0; i <= n; i++) {
    if (i >= k) num += c * a ** BigInt(i) * (b - a) ** BigInt(n - i);
    c = (c * BigInt(n - i)) / BigInt(i + 1);
  }
  if (num === 0n) return -Infinity;
  const den = b ** BigInt(n);
  // log10(num / den) from the leading 17 digits of each.
  const log10 = (x: bigint) => {
    const s = x.toString();
    return Math.log10(Number(s.slice(0, 17))) + (s.length - Math.min(17, s.length));
  };
  return log10(num) - log10(den);
}

test("binomial tail: P[X >= k] for Binomial(200, 0.1) and Binomial(200, 1/9) against exact BigInt sums, deep into the tail", () => {
  for (const [a, b] of [[1n, 10n], [1n, 9n]] as const) {
    const p = Number(a) / Number(b);
    for (const k of [0, 1, 5, 20, 21, 30, 50, 100, 150, 199, 200]) {
      const exact = exactLog10Tail(k, 200, a, b);
      const got = logBinomialTail(k, 200, p) / Math.LN10;
      assert.ok(Math.abs(got - exact) < 1e-9 * Math.max(1, Math.abs(exact)), `k ${k}, p ${p}: ${got} vs exact ${exact}`);
    }
  }
  // Published-style values: P[X >= 200] = 1e-200 and P[X >= 0] = 1.
  assert.ok(Math.abs(logBinomialTail(200, 200, 0.1) / Math.LN10 + 200) < 1e-9);
  assert.is(binomialTail(0, 200, 0.1), 1);
  assert.is(binomialTail(201, 200, 0.1), 0);
  // Large n: stays finite and monotone.
  const big = [1000, 1100, 1500, 3000].map((k) => logBinomialTail(k, 10_000, 0.1));
  assert.ok(big.every((v, i) => Number.isFinite(v) && (i === 0 || v < big[i - 1])), JSON.stringify(big));
  assert.ok(Math.abs(binomialTail(1000, 10_000, 0.1) - 0.5) < 0.02);
});

test("verify counts only the queries a match was possible on: where the suspect left the victim's label", async () => {
  // 20 logged inputs of 10 classes: victim label 0, watermark label 1 + (i mod 9).
  const entries: WatermarkEntry[] = Array.from({ length: 20 }, (_, i) => ({
    input: Float32Array.of(i), inputShape: [1], numClasses: 10, label: 1 + (i % 9), victimLabel: 0,
  }));
  // The suspect answers the victim's label on 17 inputs and the watermark label on 3.
  const suspect = async (batch: { data: Float32Array; batchSize: number }) => ({
    labels: Int32Array.from(batch.data, (x) => (x < 3 ? 1 + (x % 9) : 0)),
  });
  const r = await verifyWatermark(entries, suspect);
  assert.is(r.queries, 20);
  assert.is(r.matches, 3);
  assert.is(r.informative, 3);
  assert.ok(Math.abs(r.pValue - binomialTail(3, 3, 1 / 9)) < 1e-15, `${r.pValue}`);
  // Without the victim's labels every query counts (the conservative bound).
  const bare = await verifyWatermark(entries.map(({ victimLabel: _v, ...e }) => e), suspect);
  assert.is(bare.informative, 20);
  assert.ok(Math.abs(bare.pValue - binomialTail(3, 20, 1 / 9)) < 1e-12);
  assert.ok(bare.pValue > r.pValue);
  // A suspect that never answers the victim's label has nothing to gain from the conditioning.
  const wrong = await verifyWatermark(entries, async (b) => ({ labels: new Int32Array(b.batchSize).fill(5) }));
  assert.is(wrong.informative, 20);
  assert.is(wrong.matches, 2);
});

test("soft marks: a keyed share disjoint from the label marks keeps its strict top-1 and moves at most softMass into the keyed class", async () => {
  const records: WatermarkRecord[] = [];
  const SOFT = 0.2;
  const d = withWatermark(createDefense("none", {}, { core }), { key: KEY, rate: RATE, softRate: SOFT, softMass: 0.3, softKeying: "input", onWatermark: (r) => void records.push(...r) });
  const probs = (await d.apply(batch)).probs;
  const marker = createWatermarker(KEY, RATE, SOFT);
  let soft = 0;
  let label = 0;
  for (let i = 0; i < N; i++) {
    const row = probs.subarray(i * K, (i + 1) * K);
    const y = victim.subarray(i * K, (i + 1) * K);
    const draw = await marker.draw(inputs.subarray(i * SIZE, (i + 1) * SIZE), SHAPE, K);
    assert.ok(!(draw.selected && draw.soft), "label and soft marks are disjoint");
    if (draw.selected) label++;
    if (!draw.soft) continue;
    soft++;
    const t = argmax(y);
    const w = watermarkClass(t, draw.offset);
    assert.is(argmax(row), t, `row ${i}: top-1 kept`);
    assert.ok(row.every((p, k) => k === t || p < row[t]), `row ${i}: strict top-1`);
    // ã = (1 − m) y + m e_w with 0 < m ≤ 0.3: every other class scales by the same 1 − m.
    const m = 1 - row[t] / y[t];
    assert.ok(m > 0 && m <= 0.3 + 1e-6, `row ${i}: mass ${m}`);
    for (let k = 0; k < K; k++) if (k !== w) assert.ok(Math.abs(row[k] - (1 - m) * y[k]) < 1e-5, `row ${i} class ${k}`);
    assert.ok(Math.abs(row.reduce((s, p) => s + p, 0) - 1) < 1e-5 && row.every((p) => p >= 0), `row ${i} on the simplex`);
  }
  assert.ok(Math.abs(soft / N - SOFT) < 0.025, `soft-marked ${soft / N}`);
  assert.is(records.filter((r) => r.kind === "soft").length, soft);
  assert.is(records.filter((r) => r.kind === "label").length, label);
  // Only label marks cost top-1: the wrapper keeps the inner trait when there are none.
  const softOnly = withWatermark(createDefense("none", {}, { core }), { key: KEY, rate: 0, softRate: 0.5 });
  assert.is(softOnly.traits.keepsTop1, createDefense("none", {}, { core }).traits.keepsTop1);
  assert.throws(() => withWatermark(createDefense("none", {}, { core }), { key: KEY, rate: 0.5, softRate: 0.6 }), /softRate/);
  assert.throws(() => withWatermark(createDefense("none", {}, { core }), { key: KEY, rate: 0.1, softMass: 1 }), /softMass/);
});

test("class-keyed soft marks: one keyed class per top-1 class (never the top-1), the same across inputs and instances, another key another map", async () => {
  const records: WatermarkRecord[] = [];
  const d = withWatermark(createDefense("none", {}, { core }), { key: KEY, rate: 0, softRate: 0.3, onWatermark: (r) => void records.push(...r) });
  await d.apply(batch);
  const map = new Map<number, number>();
  for (const r of records) {
    assert.is(r.keying, "class");
    assert.is.not(r.label, r.victimLabel);
    if (map.has(r.victimLabel)) assert.is(r.label, map.get(r.victimLabel), `class ${r.victimLabel}: one keyed class`);
    map.set(r.victimLabel, r.label);
  }
  assert.is(map.size, K, "every class seen");
  const marker = createWatermarker(KEY, 0, 0.3);
  for (const [t, w] of map) assert.is(watermarkClass(t, await marker.classOffset(t, K)), w);
  // A sampled log: the same answers, about softLogRate / softRate of the soft marks recorded.
  const all = records.length;
  const sampled: WatermarkRecord[] = [];
  const s = withWatermark(createDefense("none", {}, { core }), { key: KEY, rate: 0, softRate: 0.3, softLogRate: 0.06, onWatermark: (r) => void sampled.push(...r) });
  assert.equal(Array.from((await s.apply(batch)).probs), Array.from((await d.apply(batch)).probs));
  assert.ok(Math.abs(sampled.length / all - 0.2) < 0.05, `${sampled.length} of ${all} logged`);
  assert.throws(() => withWatermark(createDefense("none", {}, { core }), { key: KEY, rate: 0, softRate: 0.3, softLogRate: 0.4 }), /softLogRate/);
  const other = createWatermarker(OTHER_KEY, 0, 0.3);
  const otherMap = await Promise.all([...map.keys()].map(async (t) => watermarkClass(t, await other.classOffset(t, K))));
  assert.ok(otherMap.some((w, i) => w !== [...map.values()][i]), "another key, another map");
});

test("class-keyed tail: exact against enumerating every keyed map (K = 4, three classes present)", () => {
  const K4 = 4;
  const counts = new Map<number, number[]>([[0, [0, 5, 1, 0]], [2, [2, 0, 0, 3]], [3, [1, 1, 4, 0]]]);
  // Enumerate π(0) ∈ {1,2,3}, π(2) ∈ {0,1,3}, π(3) ∈ {0,1,2}: 27 equally likely maps.
  const sums: number[] = [];
  for (const a of [1, 2, 3]) for (const b of [0, 1, 3]) for (const c of [0, 1, 2]) sums.push(counts.get(0)![a] + counts.get(2)![b] + counts.get(3)![c]);
  for (const observed of [0, 3, 6, 9, 12, 13]) {
    const exact = sums.filter((v) => v >= observed).length / sums.length;
    const got = Math.exp(logClassKeyedTail(counts, K4, observed));
    assert.ok(Math.abs(got - exact) < 1e-12, `S >= ${observed}: ${got} vs ${exact}`);
  }
  // Deep tails stay finite in log space: 300 classes all matched at 1/999 each.
  const many = new Map<number, Float64Array>();
  for (let c = 0; c < 300; c++) {
    const row = new Float64Array(1000);
    row[(c + 1) % 1000] = 1;
    many.set(c, row);
  }
  const deep = logClassKeyedTail(many, 1000, 300);
  assert.ok(Math.abs(deep - 300 * -Math.log(999)) < 1e-6, `${deep}`);
});

test("verify: class-keyed soft marks, a suspect that learnt the map is identified, one that did not is not", async () => {
  const marker = createWatermarker(KEY, 0, 1);
  const pi = await Promise.all(Array.from({ length: 10 }, async (_, t) => watermarkClass(t, await marker.classOffset(t, 10))));
  const entries: WatermarkEntry[] = Array.from({ length: 100 }, (_, i) => ({
    kind: "soft", keying: "class", input: Float32Array.of(i), inputShape: [1], numClasses: 10, label: pi[i % 10], victimLabel: i % 10,
  }));
  const suspectWith = (runnerUp: (t: number, i: number) => number) => async (b: { data: Float32Array; batchSize: number }) => {
    const probs = new Float32Array(b.batchSize * 10).fill(0.01);
    Array.from(b.data).forEach((x, i) => {
      const t = x % 10;
      probs[i * 10 + t] = 0.8;
      probs[i * 10 + runnerUp(t, x)] = 0.12;
    });
    return { labels: Int32Array.from(b.data, (x) => x % 10), probs };
  };
  // Learnt: the runner-up is π(t) on 6 of every 10 inputs of each class.
  const thief = await verifyWatermark(entries, suspectWith((t, x) => (Math.floor(x / 10) < 6 ? pi[t] : (t + 1) % 10 === pi[t] ? (t + 2) % 10 : (t + 1) % 10)));
  assert.ok(thief.softClass && thief.softClass.matches >= 60, `${thief.softClass?.matches}`);
  assert.is(thief.verdict, "stolen");
  // Independent, with a strong confusion of its own (runner-up t + 1 always): matches only where π(t) = t + 1.
  const independent = await verifyWatermark(entries, suspectWith((t) => (t + 1) % 10));
  const agreeing = pi.filter((w, t) => w === (t + 1) % 10).length;
  assert.is(independent.softClass!.matches, 10 * agreeing);
  // Exact: P[S ≥ 10·a] for S = 10 × Binomial(10, 1/9).
  assert.ok(Math.abs(independent.softClass!.pValue - binomialTail(agreeing, 10, 1 / 9)) < 1e-12, `${independent.softClass!.pValue}`);
  assert.is(independent.verdict, "no evidence");
});

test("class-keyed label marks: the wrong top-1 is the class map's π(c); verify tests the suspect's top-1 and runner-up against the map", async () => {
  const records: WatermarkRecord[] = [];
  const d = withWatermark(createDefense("none", {}, { core }), { key: KEY, rate: 0.2, labelKeying: "class", onWatermark: (r) => void records.push(...r) });
  const probs = (await d.apply(batch)).probs;
  const marker = createWatermarker(KEY, 0.2);
  for (const r of records) {
    assert.is(r.kind, "label");
    assert.is(r.keying, "class");
    assert.is(r.label, watermarkClass(r.victimLabel, await marker.classOffset(r.victimLabel, K)));
  }
  const firstMarked = records[0];
  const at = Array.from({ length: N }, (_, i) => i).find((i) => inputs.subarray(i * SIZE, (i + 1) * SIZE).every((v, j) => v === firstMarked.input[j]))!;
  assert.is(argmax(probs.subarray(at * K, (at + 1) * K)), firstMarked.label);
  const entries: WatermarkEntry[] = records.slice(0, 200);
  const row = (b: { data: Float32Array; batchSize: number }, top: (e: WatermarkEntry) => number, second: (e: WatermarkEntry) => number) => {
    const out = new Float32Array(b.batchSize * K).fill(0.01);
    const labels = new Int32Array(b.batchSize);
    for (let i = 0; i < b.batchSize; i++) {
      const e = entries.find((x) => x.input.every((v, j) => v === b.data[i * SIZE + j]))!;
      labels[i] = top(e);
      out[i * K + top(e)] = 0.8;
      out[i * K + second(e)] = 0.11;
    }
    return { labels, probs: out };
  };
  const other = (e: WatermarkEntry) => [0, 1, 2].find((k) => k !== e.victimLabel && k !== e.label)!;
  // A copy that memorised the flipped labels, and one that only learnt the confusion (runner-up π(c)).
  const memorised = await verifyWatermark(entries, async (b) => row(b, (e) => e.label, other));
  const confused = await verifyWatermark(entries, async (b) => row(b, (e) => e.victimLabel!, (e) => e.label));
  const independent = await verifyWatermark(entries, async (b) => row(b, (e) => e.victimLabel!, other));
  assert.is(memorised.label, null, "no per-input test for class-keyed marks");
  assert.is(memorised.labelClass!.matches, entries.length);
  assert.is(memorised.verdict, "stolen");
  assert.is(confused.labelClass!.matches, 0);
  assert.is(confused.softClass!.matches, entries.length);
  assert.is(confused.verdict, "stolen");
  assert.is(independent.verdict, "no evidence");
  assert.is(memorised.queries, entries.length);
});

test("softMarkRow: the cap keeps at least half the top's lead; no strict top, no mark", () => {
  const a = [0.5, 0.45, 0.05];
  const row = softMarkRow(a, 1, 0.9)!;
  assert.is(argmax(row), 0);
  assert.ok(row[0] - row[1] >= (0.05 / 2) * (1 - 1e-6), `${Array.from(row)}`);
  assert.is(softMarkRow([0.5, 0.5, 0], 2, 0.2), null);
  const confident = softMarkRow([0.98, 0.01, 0.01], 2, 0.25)!;
  // m = min(0.25, ½ · 0.97 / 1.97) = 0.2462: the cap binds even for a confident answer.
  const m = (0.5 * 0.97) / 1.97;
  assert.ok(Math.abs(confident[2] - ((1 - m) * 0.01 + m)) < 1e-6, `${Array.from(confident)}`);
});

test("verify: soft marks test the suspect's most likely class besides the kept top-1; labels-only suspects skip them; Bonferroni", async () => {
  // 30 soft entries of 10 classes: kept top-1 0, watermark class 1 + (i mod 9); 10 label entries.
  const soft: WatermarkEntry[] = Array.from({ length: 30 }, (_, i) => ({
    kind: "soft", input: Float32Array.of(100 + i), inputShape: [1], numClasses: 10, label: 1 + (i % 9), victimLabel: 0,
  }));
  const label: WatermarkEntry[] = Array.from({ length: 10 }, (_, i) => ({
    kind: "label", input: Float32Array.of(i), inputShape: [1], numClasses: 10, label: 1 + (i % 9), victimLabel: 0,
  }));
  // A suspect whose runner-up is the watermark class on the first 12 soft inputs, class 9 elsewhere; its top-1 is always 0.
  const suspect = async (b: { data: Float32Array; batchSize: number }) => {
    const probs = new Float32Array(b.batchSize * 10);
    Array.from(b.data).forEach((x, i) => {
      probs[i * 10] = 0.8;
      const runnerUp = x >= 100 && x < 112 ? 1 + ((x - 100) % 9) : 9;
      probs[i * 10 + runnerUp] = 0.15;
      for (let k = 1; k < 10; k++) if (k !== runnerUp) probs[i * 10 + k] = 0.05 / 8;
    });
    return { labels: new Int32Array(b.batchSize), probs };
  };
  const r = await verifyWatermark([...soft, ...label], suspect, { maxQueries: 200 });
  assert.is(r.softClass, null);
  assert.is(r.label!.queries, 10);
  assert.is(r.label!.matches, 0);
  assert.is(r.label!.informative, 0);
  assert.is(r.softInput!.queries, 30);
  // Runner-up = watermark class on the 12 chosen inputs, plus the inputs whose watermark class is 9 anyway (i mod 9 = 8: i = 17, 26).
  assert.is(r.softInput!.matches, 14);
  assert.ok(Math.abs(r.softInput!.pValue - binomialTail(14, 30, 1 / 9)) < 1e-15);
  assert.ok(Math.abs(r.pValue - Math.min(1, 2 * Math.min(r.softInput!.pValue, r.label!.pValue))) < 1e-15);
  assert.is(r.queries, 40);
  // Label marks come first under a small query budget.
  const few = await verifyWatermark([...soft, ...label], suspect, { maxQueries: 12 });
  assert.is(few.label!.queries, 10);
  assert.is(few.softInput!.queries, 2);
  // A suspect that answers labels only: soft marks are skipped, said so.
  const labelsOnly = await verifyWatermark([...soft, ...label], async (b) => ({ labels: new Int32Array(b.batchSize) }));
  assert.is(labelsOnly.softInput, null);
  assert.match(labelsOnly.softSkipped ?? "", /labels only/);
  // Asked in one batch before the suspect showed it gives labels only; tested: the label marks.
  assert.is(labelsOnly.queries, 40);
  assert.is(labelsOnly.label!.queries, 10);
  assert.throws(() => distinct([{ ...soft[0], victimLabel: undefined }]), /soft mark without the top-1/);
});

test.run();
