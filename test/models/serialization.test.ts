import { test } from "uvu";
import * as assert from "uvu/assert";
import { rmSync, writeFileSync, readFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { initBackend } from "../../src/models/backend.js";
import { isGraphModelArtifacts } from "../../src/models/serialization.js";
import { TfjsClassifier } from "../../src/models/tfjs-model.js";
import { buildModel } from "../../src/models/zoo.js";
import { fileSystemHandler, loadModelFromDir, saveModelToDir } from "../../src/node/model-files.js";
import { randomArray, rejects, tempDirs, tf } from "./helpers.js";

const { make: tempDir, removeAll } = tempDirs("pp-models-");

test.before(async () => {
  await initBackend();
});
test.after(removeAll);

const input = { data: randomArray(2 * 784, 1).map((v) => (v + 1) / 2), batchSize: 2, inputShape: [28, 28, 1] };

test("a LeNet saved in tfjs format loads back as a LayersModel with identical answers", async () => {
  const dir = tempDir();
  const model = buildModel({ arch: "lenet", numClasses: 10, inputShape: [28, 28, 1], seed: 9 });
  await saveModelToDir(model, dir);
  const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
  assert.equal(json.weightsManifest[0].paths, ["./weights.bin"]);
  assert.is(json.format, "layers-model");
  const loaded = await loadModelFromDir(join(dir, "model.json"));
  assert.ok(loaded instanceof tf.LayersModel);
  const a = await new TfjsClassifier(model).predict(input);
  const b = await new TfjsClassifier(loaded).predict(input);
  assert.equal(Array.from(b), Array.from(a));
  for (let r = 0; r < 2; r++) assert.ok(Math.abs(a.subarray(r * 10, r * 10 + 10).reduce((s, v) => s + v, 0) - 1) < 1e-5);
  model.dispose();
  loaded.dispose();
});

test("missing, truncated and invalid model files are reported", async () => {
  const dir = tempDir();
  await rejects(loadModelFromDir(join(dir, "absent")), /no tfjs model at .*absent/);
  const model = buildModel({ arch: "mlp", numClasses: 3, inputShape: [4, 4, 1], seed: 0 });
  await saveModelToDir(model, dir);
  model.dispose();
  truncateSync(join(dir, "weights.bin"), 100);
  await rejects(loadModelFromDir(dir), /have 100 bytes, the manifest describes/);
  rmSync(join(dir, "weights.bin"));
  await rejects(loadModelFromDir(dir), /weights file .*weights.bin .* is missing/);
  writeFileSync(join(dir, "model.json"), "{ not json");
  await rejects(loadModelFromDir(dir), /model.json is not valid JSON/);
});

/** A tiny converted-TensorFlow graph: x[?,4] -> MatMul(w[4,3]) -> Softmax. */
function tinyGraphArtifacts(w: Float32Array): tf.io.ModelArtifacts {
  const f = { type: "DT_FLOAT" };
  return {
    format: "graph-model",
    generatedBy: "test",
    convertedBy: "hand",
    modelTopology: {
      node: [
        { name: "x", op: "Placeholder", attr: { dtype: f, shape: { shape: { dim: [{ size: "-1" }, { size: "4" }] } } } },
        { name: "w", op: "Const", attr: { dtype: f, value: { tensor: { dtype: "DT_FLOAT", tensorShape: { dim: [{ size: "4" }, { size: "3" }] } } } } },
        { name: "logits", op: "MatMul", input: ["x", "w"], attr: { T: f, transpose_a: { b: false }, transpose_b: { b: false } } },
        { name: "probs", op: "Softmax", input: ["logits"], attr: { T: f } },
      ],
      versions: { producer: 1 },
    },
    weightSpecs: [{ name: "w", shape: [4, 3], dtype: "float32" }],
    weightData: w.buffer.slice(0) as ArrayBuffer,
  };
}

test("a user's GraphModel loads from files and serves as a victim (probability outputs)", async () => {
  const dir = tempDir();
  const w = randomArray(12, 3);
  const artifacts = tinyGraphArtifacts(w);
  assert.ok(isGraphModelArtifacts(artifacts));
  await fileSystemHandler(dir).save!(artifacts);
  const graph = await loadModelFromDir(dir);
  assert.ok(graph instanceof tf.GraphModel);
  const victim = new TfjsClassifier(graph, { outputs: "probabilities" });
  assert.equal(victim.inputShape, [4]);
  assert.is(victim.numClasses, 3);
  const x = new Float32Array([1, 0, 0, 2]);
  const p = await victim.predict({ data: x, batchSize: 1, inputShape: [4] });
  const z = [0, 1, 2].map((j) => x[0] * w[j] + x[3] * w[9 + j]);
  const e = z.map((v) => Math.exp(v - Math.max(...z)));
  const s = e.reduce((a, b) => a + b, 0);
  for (let j = 0; j < 3; j++) assert.ok(Math.abs(p[j] - e[j] / s) < 1e-5);
  // declared as logits, its probabilities would be softmaxed twice; declared right, log-probabilities come back
  const logp = await victim.logits({ data: x, batchSize: 1, inputShape: [4] });
  assert.ok(Math.abs(Math.exp(logp[1]) - p[1]) < 1e-6);
});

test("TfjsClassifier rejects what it cannot answer", async () => {
  const model = buildModel({ arch: "mlp", numClasses: 3, inputShape: [4, 4, 1], seed: 0 });
  const logitsModel = new TfjsClassifier(model);
  await rejects(logitsModel.predict({ data: new Float32Array(15), batchSize: 1, inputShape: [4, 4, 1] }), /has 15 values, expected 1 x 16/);
  await rejects(logitsModel.predict({ data: new Float32Array(16).fill(Number.POSITIVE_INFINITY), batchSize: 1, inputShape: [4, 4, 1] }), /input value Infinity/);
  // a logits model declared as "probabilities" is caught when its rows are not distributions
  await rejects(new TfjsClassifier(model, { outputs: "probabilities" }).predict({ data: randomArray(16, 4).map((v) => v * 50), batchSize: 1, inputShape: [4, 4, 1] }), /negative probability|sums to/);
  assert.throws(() => new TfjsClassifier(model, { inputShape: [5, 5, 1] }), /disagrees with the model's input \[4,4,1\]/);
  model.dispose();
});

test.run();
