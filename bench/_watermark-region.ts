// Does a copy learn a watermark that is a rule rather than a list of flipped inputs? The most learnable
// label mark we could think of: answers to inputs with much ink in a keyed 6x6 patch (the top RATE of the
// victim's training digits by the patch's mean) get a keyed label L ("single"; L' for inputs the victim calls
// L), or a keyed derangement π(y) of their own label ("class"). The thief queries the first BUDGET training
// digits; the verifier takes 200 fresh test digits, adds ink to the patch until they are well inside the
// region, and counts the copy's answers equal to the mark label. Copies: Knockoff (soft answers), a top-1
// thief, and both on clean answers. Not a bench suite (leading underscore); docs/RESULTS.md ("Ownership")
// reports its runs:
//   node --import tsx bench/_watermark-region.ts [--rule single|class] [--rate 0.01] [--budget 6000] [--epochs 8] [--key 11]
import { parseArgs } from "node:util";
import { initBackend } from "../src/models/backend.js";
import { loadMnist } from "../src/models/datasets.js";
import { trainModel } from "../src/models/training.js";
import { softmaxRows } from "../src/models/misinformation.js";
import { trainVictim } from "../src/models/victim.js";
import { buildModel } from "../src/models/zoo.js";
import { rowArgmax } from "../src/models/argmax.js";
import { stream } from "../src/models/random.js";

const { values } = parseArgs({
  options: {
    rule: { type: "string", default: "single" },
    rate: { type: "string", default: "0.01" },
    budget: { type: "string", default: "6000" },
    epochs: { type: "string", default: "8" },
    key: { type: "string", default: "11" },
  },
});
const rule = values.rule!;
if (rule !== "single" && rule !== "class") throw new Error(`--rule must be single or class, got ${rule}`);
const rate = Number(values.rate);
const budget = Number(values.budget);
const epochs = Number(values.epochs);
const P = 784;
const K = 10;
const shape = [28, 28, 1];

await initBackend();
const split = loadMnist({ seed: 0 });
if (!(budget >= 1 && budget <= split.train.count)) throw new Error(`--budget must be in 1..${split.train.count}`);
const { model: victim, metadata } = await trainVictim(split, { arch: "lenet", dataset: "mnist" });

const probs = (model: typeof victim, x: Float32Array, n: number) => softmaxRows(model, { images: x, count: n, inputShape: shape });

// The key: the patch's place, L (single) or π (class).
const key = stream(Number(values.key), "watermark-region");
const row0 = 4 + Math.floor(key.uniform() * 14);
const col0 = 4 + Math.floor(key.uniform() * 14);
const patchMean = (x: Float32Array, r: number): number => {
  let s = 0;
  for (let i = row0; i < row0 + 6; i++) for (let j = col0; j < col0 + 6; j++) s += x[r * P + i * 28 + j];
  return s / 36;
};
const single = Math.floor(key.uniform() * K);
const derangement = Array.from({ length: K }, (_, k) => (k + 1 + Math.floor(key.uniform() * (K - 1))) % K);
const markLabel = (y: number): number => (rule === "single" ? (y === single ? (single + 1) % K : single) : derangement[y]);

// The region: the top `rate` of the victim's training digits by patch ink.
const train = split.train;
const sorted = Array.from({ length: train.count }, (_, r) => patchMean(train.images, r)).sort((a, b) => a - b);
const tau = sorted[Math.floor((1 - rate) * sorted.length)];

const queries = train.images.subarray(0, budget * P);
const clean = probs(victim, queries, budget);
const marked = clean.slice();
let marks = 0;
for (let r = 0; r < budget; r++) {
  if (patchMean(queries, r) <= tau) continue;
  const y = rowArgmax(clean, r, K);
  const t = markLabel(y);
  [marked[r * K + y], marked[r * K + t]] = [marked[r * K + t], marked[r * K + y]]; // the mark label takes the top
  marks++;
}

// Verification: fresh test digits with ink added to the patch (to 1.3 τ, at most 1 per pixel).
const n = 200;
const test = split.test.images.subarray(0, n * P);
const moved = test.slice();
for (let r = 0; r < n; r++) {
  const add = Math.max(0, 1.3 * tau - patchMean(test, r));
  for (let i = row0; i < row0 + 6; i++) for (let j = col0; j < col0 + 6; j++) moved[r * P + i * 28 + j] = Math.min(1, moved[r * P + i * 28 + j] + add);
}
let inside = 0;
for (let r = 0; r < n; r++) if (patchMean(moved, r) > tau) inside++;
const victimOnTest = probs(victim, test, n);
const expected = Array.from({ length: n }, (_, r) => markLabel(rowArgmax(victimOnTest, r, K)));

const oneHot = (p: Float32Array): Float32Array => {
  const out = new Float32Array(p.length);
  for (let r = 0; r < p.length / K; r++) out[r * K + rowArgmax(p, r, K)] = 1;
  return out;
};
async function copy(targets: Float32Array, seed: number): Promise<string> {
  const model = buildModel({ arch: "lenet", numClasses: K, inputShape: shape, seed });
  await trainModel(model, { images: queries, targets, count: budget, inputShape: shape, numClasses: K }, { epochs, batchSize: 64, optimizer: "sgd", learningRate: 0.01, momentum: 0.5, seed });
  const onMoved = probs(model, moved, n);
  const onTest = probs(model, test, n);
  let matches = 0;
  let before = 0;
  for (let r = 0; r < n; r++) {
    if (rowArgmax(onMoved, r, K) === expected[r]) matches++;
    if (rowArgmax(onTest, r, K) === expected[r]) before++;
  }
  model.dispose();
  return `${matches}/${n} (unmoved ${before}/${n})`;
}

console.log(
  `rule ${rule}, key ${values.key} (patch at row ${row0}, col ${col0}), rate ${rate}, budget ${budget}, ${epochs} epochs; victim ${(metadata.accuracy * 100).toFixed(1)} %; ` +
    `${marks} of ${budget} answers marked; ${inside}/${n} verification inputs inside the region`,
);
console.log(`mark label reproduced on the moved inputs: knockoff ${await copy(marked, 1)}, top-1 ${await copy(oneHot(marked), 2)}, ` +
  `clean knockoff ${await copy(clean, 3)}, clean top-1 ${await copy(oneHot(clean), 4)}`);
