// ModelGuard-S (modelguard-s.ts): the per-class codebook, its capacity, top-1 under ties, reset, and the
// exported state (JSON round trip, validation of a loaded state).
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  createDefense, DefenseConfigError, DefenseInputError, isModelGuardS, type Defense, type ModelGuardSDefense, type ModelGuardSState,
} from "../../src/defenses/index.js";
import { argmax, batchOf, l1, lcg, randomRows, rowOf } from "./helpers.js";

const mgs = (params: Record<string, unknown> = {}): ModelGuardSDefense => {
  const d = createDefense("modelguard-s", params);
  if (!isModelGuardS(d)) throw new Error("not a ModelGuard-S instance");
  return d;
};
const f32 = (row: number[]) => Array.from(Float32Array.from(row));
const ask = async (d: Defense, row: number[]) => Array.from((await d.apply(batchOf(Float32Array.from(row), row.length))).probs);

test("parameters: defaults and ranges", () => {
  assert.equal(mgs().params, { epsilon: 1, capacity: 1024 });
  assert.equal(mgs().traits, { keepsTop1: true, needsInput: false, stateful: true, randomized: false, onSimplex: true });
  const fails = (params: Record<string, unknown>, parameter: string, pattern: RegExp) => {
    try {
      mgs(params);
      assert.unreachable(JSON.stringify(params));
    } catch (e) {
      assert.instance(e, DefenseConfigError);
      assert.is((e as DefenseConfigError).parameter, parameter);
      assert.match(String(e), pattern);
    }
  };
  fails({ epsilon: -0.1 }, "epsilon", />= 0/);
  fails({ epsilon: 2.01 }, "epsilon", /<= 2/);
  fails({ capacity: 0 }, "capacity", /integer >= 1/);
  fails({ capacity: 2.5 }, "capacity", /integer/);
  fails({ size: 3 }, "size", /unknown parameter \(known: epsilon, capacity\)/);
  assert.not.ok(isModelGuardS(createDefense("none")));
});

test("a query gets the first stored answer of its class within ε, else its own y, which is stored", async () => {
  const d = mgs({ epsilon: 0.5 });
  const q1 = [0.6, 0.3, 0.1];
  const q3 = [0.9, 0.05, 0.05]; // L1 0.6 from q1: a new entry
  assert.equal(await ask(d, q1), f32(q1));
  assert.equal(await ask(d, [0.65, 0.25, 0.1]), f32(q1)); // L1 0.1
  assert.equal(await ask(d, q3), f32(q3));
  assert.equal(await ask(d, [0.75, 0.15, 0.1]), f32(q1), "within ε of q1 and q3: the first stored"); // 0.3 from both
  assert.equal(await ask(d, [0.88, 0.07, 0.05]), f32(q3));
  // Class 1: q1 is within ε (L1 0.4) but of another class.
  const q5 = [0.35, 0.45, 0.2];
  assert.equal(await ask(d, q5), f32(q5));
  assert.equal(d.exportState().codebooks.map((b) => b.length), [2, 1, 0]);
  // ε = 0: only identical posteriors share (they already do), the codebook holds each distinct y once.
  const exact = mgs({ epsilon: 0 });
  await ask(exact, q1);
  await ask(exact, q1);
  assert.equal(exact.exportState().codebooks[0].length, 1);
});

test("capacity: a full class stores nothing more and answers y when nothing stored is within ε", async () => {
  const d = mgs({ epsilon: 0.2, capacity: 1 });
  const q1 = [0.6, 0.3, 0.1];
  const far = [0.9, 0.05, 0.05];
  assert.equal(await ask(d, q1), f32(q1));
  assert.equal(await ask(d, far), f32(far));
  const nearFar = [0.85, 0.1, 0.05];
  assert.equal(await ask(d, nearFar), f32(nearFar), "far was not stored");
  assert.equal(await ask(d, [0.62, 0.28, 0.1]), f32(q1), "the stored one still answers");
  assert.equal(d.exportState().codebooks[0], [f32(q1)]);
  // Other classes have their own room.
  await ask(d, [0.1, 0.8, 0.1]);
  assert.equal(d.exportState().codebooks.map((b) => b.length), [1, 1, 0]);
});

test("top-1 is kept and every answer is within ε, ties and near-ties included (fuzz)", async () => {
  const rnd = lcg(3);
  for (const epsilon of [0.05, 0.3, 1, 2]) {
    const d = mgs({ epsilon, capacity: 16 });
    for (let batch = 0; batch < 20; batch++) {
      const K = 2 + (batch % 4);
      const B = 16;
      // Coarse values (multiples of 1/8 before normalising) make ties common.
      const probs = new Float32Array(B * K);
      for (let i = 0; i < B; i++) {
        const raw = Array.from({ length: K }, () => Math.floor(rnd() * 4));
        raw[Math.floor(rnd() * K)] += 1;
        const s = raw.reduce((a, b) => a + b, 0);
        raw.forEach((v, k) => (probs[i * K + k] = v / s));
      }
      d.reset();
      const { probs: answers } = await d.apply(batchOf(probs, K));
      for (let i = 0; i < B; i++) {
        const y = rowOf(probs, i, K);
        const a = rowOf(answers, i, K);
        assert.is(argmax(a), argmax(y), `ε ${epsilon} batch ${batch} row ${i}: top-1`);
        assert.ok(l1(a, y) <= epsilon + 1e-6, `ε ${epsilon} batch ${batch} row ${i}: L1 ${l1(a, y)}`);
      }
    }
  }
  // A tie: [0.4, 0.4, 0.2] is class 0 (first maximum) and answers only class-0 queries.
  const d = mgs({ epsilon: 0.3 });
  await ask(d, [0.4, 0.4, 0.2]);
  assert.equal(await ask(d, [0.45, 0.35, 0.2]), f32([0.4, 0.4, 0.2]));
  assert.equal(await ask(d, [0.35, 0.45, 0.2]), f32([0.35, 0.45, 0.2]));
});

test("reset forgets; a batch answers like its rows one by one from the same prior state", async () => {
  const d = mgs({ epsilon: 0.5 });
  await ask(d, [0.6, 0.3, 0.1]);
  d.reset();
  assert.equal(d.exportState(), { format: "modelguard-s/v1", numClasses: null, codebooks: [] });
  assert.equal(await ask(d, [0.65, 0.25, 0.1]), f32([0.65, 0.25, 0.1]));

  const K = 5;
  const warm = randomRows(30, K, 1, 4);
  const probs = randomRows(40, K, 2, 4);
  const seed = mgs({ epsilon: 0.4, capacity: 8 });
  await seed.apply(batchOf(warm, K));
  const state = seed.exportState();
  const whole = mgs({ epsilon: 0.4, capacity: 8 });
  whole.importState(state);
  const single = mgs({ epsilon: 0.4, capacity: 8 });
  single.importState(state);
  const all = await whole.apply(batchOf(probs, K));
  for (let i = 0; i < 40; i++) {
    const { probs: one } = await single.apply(batchOf(rowOf(probs, i, K), K));
    assert.equal(Array.from(one), Array.from(rowOf(all.probs, i, K)), `row ${i}`);
  }
  assert.equal(whole.exportState(), single.exportState());
  // A batch of another K than the codebook's is refused.
  try {
    await whole.apply(batchOf(new Float32Array([0.5, 0.5]), 2));
    assert.unreachable("accepted K = 2");
  } catch (e) {
    assert.instance(e, DefenseInputError);
    assert.match(String(e), /numClasses: is 2, but the codebooks hold vectors of 5 classes/);
  }
});

test("the state survives JSON: an instance that imports it answers as the original would", async () => {
  const K = 4;
  const d = mgs({ epsilon: 0.3 });
  await d.apply(batchOf(randomRows(50, K, 7, 3), K));
  const json = JSON.stringify(d.exportState());
  const copy = mgs({ epsilon: 0.3 });
  copy.importState(JSON.parse(json) as ModelGuardSState);
  assert.equal(copy.exportState(), d.exportState());
  const next = randomRows(30, K, 8, 3);
  assert.equal(Array.from((await copy.apply(batchOf(next, K))).probs), Array.from((await d.apply(batchOf(next, K))).probs));
  // The export is a copy: using the defense afterwards does not change it.
  const snapshot = d.exportState();
  const count = snapshot.codebooks.flat().length;
  await d.apply(batchOf(randomRows(30, K, 9, 3), K));
  assert.is(snapshot.codebooks.flat().length, count);
});

test("a loaded state is validated, naming what is wrong; a rejected one changes nothing", async () => {
  const good: ModelGuardSState = { format: "modelguard-s/v1", numClasses: 3, codebooks: [[[0.7, 0.2, 0.1]], [], [[0.1, 0.2, 0.7]]] };
  const d = mgs({ epsilon: 0.2, capacity: 2 });
  d.importState(good);
  assert.equal(await ask(d, [0.65, 0.25, 0.1]), f32([0.7, 0.2, 0.1]));
  const cases: [unknown, RegExp, typeof DefenseInputError | typeof DefenseConfigError][] = [
    [null, /state: must be an object/, DefenseInputError],
    [{ ...good, format: "v2" }, /state\.format: must be "modelguard-s\/v1", got "v2"/, DefenseInputError],
    [{ ...good, numClasses: 1 }, /state\.numClasses: must be an integer >= 2 or null/, DefenseInputError],
    [{ ...good, numClasses: 4 }, /state\.codebooks: has 3 codebooks, expected one per class \(numClasses 4\)/, DefenseInputError],
    [{ ...good, numClasses: null }, /must be empty when numClasses is null/, DefenseInputError],
    [{ ...good, codebooks: [[[0.7, 0.3]], [], []] }, /state\.codebooks\[0\], row 0: must be an array of 3 numbers/, DefenseInputError],
    [{ ...good, codebooks: [[[0.7, 0.2, 0.1], [0.8, "x", 0.1]], [], []] }, /state\.codebooks\[0\], row 1: class 1 is "x"/, DefenseInputError],
    [{ ...good, codebooks: [[[1.2, -0.3, 0.1]], [], []] }, /state\.codebooks\[0\], row 0: class 1 is negative/, DefenseInputError],
    [{ ...good, codebooks: [[[0.7, 0.7, 0.1]], [], []] }, /state\.codebooks\[0\], row 0: sums to/, DefenseInputError],
    [{ ...good, codebooks: [[], [[0.5, 0.5, 0]], []] }, /state\.codebooks\[1\], row 0: its largest entry is class 0, not the codebook's class 1/, DefenseInputError],
    [{ ...good, codebooks: [[[0.7, 0.2, 0.1], [0.8, 0.1, 0.1], [0.9, 0.05, 0.05]], [], []] }, /parameter "capacity": the state's codebook of class 0 holds 3 vectors, more than capacity 2/, DefenseConfigError],
  ];
  for (const [state, pattern, kind] of cases) {
    try {
      d.importState(state as ModelGuardSState);
      assert.unreachable(`accepted ${JSON.stringify(state)}`);
    } catch (e) {
      assert.instance(e, kind, String(e));
      assert.match(String(e), pattern);
    }
  }
  assert.equal(d.exportState().codebooks, [[f32([0.7, 0.2, 0.1])], [], [f32([0.1, 0.2, 0.7])]], "unchanged by the rejected imports");
});

test.run();
