import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { initBackend } from "../../src/models/backend.js";
import { loadOrTrainVictim, readVictimMetadata } from "../../src/node/victim-files.js";
import { tempDirs } from "./helpers.js";

const { make: tempDir, removeAll } = tempDirs("pp-victim-");

test.before(async () => {
  await initBackend();
});
test.after(removeAll);

test("loadOrTrainVictim trains on first use, then loads the cached model; other options retrain", async () => {
  const dir = tempDir();
  const options = { arch: "mlp" as const, dataset: "mnist" as const, epochs: 2, trainCount: 512, learningRate: 0.1 };
  const first = await loadOrTrainVictim(dir, options);
  assert.is(first.cached, false);
  assert.is(first.metadata.trainCount, 512);
  assert.is(first.metadata.testCount, 2000);
  assert.ok(first.metadata.accuracy > 0.5, `accuracy ${first.metadata.accuracy}`);
  assert.equal(readVictimMetadata(dir), first.metadata);
  const second = await loadOrTrainVictim(dir, options);
  assert.is(second.cached, true);
  assert.equal(second.metadata, first.metadata);
  const w1 = first.model.getWeights()[1].dataSync();
  const w2 = second.model.getWeights()[1].dataSync();
  assert.equal(Array.from(w2), Array.from(w1));
  const other = await loadOrTrainVictim(dir, { ...options, seed: 3 });
  assert.is(other.cached, false);
  assert.is(other.metadata.seed, 3);
  for (const m of [first, second, other]) m.model.dispose();
});

test("`prediction-poisoning train` reports the test accuracy and writes model + metadata", () => {
  const out = join(tempDir(), "victim");
  const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/index.ts", "train", "--arch", "lenet", "--dataset", "mnist", "--epochs", "2", "--train-count", "512", "--lr", "0.05", "--seed", "2", "--out", out], {
    encoding: "utf8",
  });
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, /lenet on mnist: test accuracy \d+\.\d\d% on 2000 images \(512 training images, 2 epochs/);
  assert.ok(existsSync(join(out, "model.json")) && existsSync(join(out, "weights.bin")));
  const meta = JSON.parse(readFileSync(join(out, "victim.json"), "utf8"));
  assert.equal({ arch: meta.arch, dataset: meta.dataset, seed: meta.seed, numClasses: meta.numClasses, inputShape: meta.inputShape }, { arch: "lenet", dataset: "mnist", seed: 2, numClasses: 10, inputShape: [28, 28, 1] });
  assert.ok(meta.accuracy > 0.2 && meta.accuracy <= 1, `accuracy ${meta.accuracy}`);
});

test("`train` rejects bad flags and names a missing Fashion-MNIST", () => {
  const bad = spawnSync(process.execPath, ["--import", "tsx", "src/cli/index.ts", "train", "--epochs", "0", "--out", tempDir()], { encoding: "utf8" });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--epochs must be a positive integer/);
  const missing = spawnSync(process.execPath, ["--import", "tsx", "src/cli/index.ts", "train", "--dataset", "fashion-mnist", "--fashion-mnist-dir", tempDir(), "--out", tempDir()], { encoding: "utf8" });
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /apt-get install dataset-fashion-mnist/);
});

test.run();
