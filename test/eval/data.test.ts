import { test } from "uvu";
import * as assert from "uvu/assert";
import { prepareData, type DataSources } from "../../src/eval/data.js";
import type { LabeledImages } from "../../src/models/datasets.js";
import { parseThiefParams } from "../../src/cli/evaluate.js";

function images(name: string, count: number, fill: number): LabeledImages {
  return { name, images: new Float32Array(count * 4).fill(fill), labels: new Int32Array(count), count, inputShape: [2, 2, 1], numClasses: 10 };
}

const mnist = () => ({ train: images("mnist-train", 10, 0.1), test: images("mnist-test", 4, 0.2) });
const withFashion: DataSources = { mnist, fashionMnist: () => ({ train: images("fashion-train", 12, 0.5), test: images("fashion-test", 3, 0.6) }) };
const withoutFashion: DataSources = { mnist, fashionMnist: () => null };
const base = { dataset: "mnist" as const, heldOutSize: 3, seed: 0 };

test("MNIST: the victim trains on all but the held-out images; auto picks Fashion-MNIST when installed, held-out digits otherwise", () => {
  const a = prepareData({ ...base, transfer: "auto" }, withFashion);
  assert.is(a.victimTrain!.count, 7);
  assert.is(a.heldOut.count, 3);
  assert.is(a.test.count, 4);
  assert.is(a.poolName, "fashion-mnist");
  assert.is(a.pool.count, 12);
  const b = prepareData({ ...base, transfer: "auto" }, withoutFashion);
  assert.is(b.poolName, "mnist-heldout");
  assert.is(b.pool, b.heldOut);
  assert.is(prepareData({ ...base, transfer: "heldout" }, withFashion).poolName, "mnist-heldout");
});

test("asking for a transfer set that is missing or does not apply is a clear error", () => {
  assert.throws(() => prepareData({ ...base, transfer: "fashion-mnist" }, withoutFashion), /apt-get install dataset-fashion-mnist/);
  assert.throws(() => prepareData({ ...base, transfer: "mnist" }, withFashion), /does not apply to an MNIST victim/);
  assert.throws(() => prepareData({ ...base, transfer: "auto", heldOutSize: 10 }, withFashion), /heldOutSize must be an integer in \[1, 9\]/);
  assert.throws(() => prepareData({ ...base, dataset: "fashion-mnist", transfer: "auto" }, withoutFashion), /fashion-mnist is not installed/);
  assert.throws(() => prepareData({ ...base, dataset: "cifar" as never, transfer: "auto" }, withFashion), /unknown dataset "cifar"/);
});

test("Fashion-MNIST victim: MNIST digits (train and test) are the out-of-distribution pool", () => {
  const d = prepareData({ ...base, dataset: "fashion-mnist", transfer: "auto" }, withFashion);
  assert.is(d.victimTrain!.count, 9);
  assert.is(d.poolName, "mnist");
  assert.is(d.pool.count, 14);
  assert.is(d.pool.images[0], Math.fround(0.1));
  assert.is(d.pool.images[d.pool.images.length - 1], Math.fround(0.2));
});

test("held out from the test set: the victim trains on every training image, accuracy on the rest of the test set", () => {
  const d = prepareData({ ...base, dataset: "fashion-mnist", transfer: "mnist", heldOutSize: 2, heldOutFrom: "test" }, withFashion);
  assert.is(d.victimTrain!.count, 12);
  assert.is(d.heldOut.count, 2);
  assert.is(d.test.count, 1);
  assert.throws(() => prepareData({ ...base, dataset: "fashion-mnist", transfer: "mnist", heldOutSize: 3, heldOutFrom: "test" }, withFashion), /the test set has 3 images/);
});

test("--thief-params parses THIEF:PARAM=VALUE lists with numbers, booleans and strings", () => {
  assert.equal(parseThiefParams(["knockoff:epochs=10:labels=top1", "jbtop3:finalEpochs=5", "knockoff:learningRate=0.05"]), {
    knockoff: { epochs: 10, labels: "top1", learningRate: 0.05 },
    jbtop3: { finalEpochs: 5 },
  });
  assert.throws(() => parseThiefParams(["knockoff"]), /THIEF:PARAM=VALUE/);
  assert.throws(() => parseThiefParams(["knockoff:epochs"]), /not PARAM=VALUE/);
});

test.run();
