// The user's own model and data through the command: a synthetic 100-class colour data set written as
// PNG folders, `train --data --test`, then `evaluate --victim --test --transfer` with MAD-argmax (K = 100:
// the WASM core's sorted search) in worker threads, then `serve` of the same model; a greyscale folder trained with a held-out test share and
// evaluated on an unlabeled test folder (fidelity) with an NPY query pool; a hand-written GraphModel with
// probability outputs; and the flag and data errors.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syntheticImages } from "../../src/models/synthetic.js";
import { encodeNpy } from "../../src/models/npy.js";
import { seeded } from "../../src/models/random.js";
import { writeImageFolder, writeNpyData } from "../../src/node/data-files.js";
import type { ChildProcess } from "node:child_process";
import { argmaxRows } from "../../src/models/argmax.js";
import { initBackend } from "../../src/models/backend.js";
import { TfjsClassifier } from "../../src/models/tfjs-model.js";
import { loadModelFromDir } from "../../src/node/model-files.js";
import { encodeFloat32Base64 } from "../../src/service/schema.js";
import { startServe } from "./serve-process.js";

const dir = mkdtempSync(join(tmpdir(), "pp-user-data-"));

/** Runs the CLI; stdout and stderr collected (async, so two runs can share the machine's cores). */
function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, out, err });
    });
  });
}

const path = (...parts: string[]) => join(dir, ...parts);
const thiefEpochs = ["--thief-params", "knockoff:epochs=2", "--thief-params", "top1:epochs=2"];

test("synthetic 32x32x3, 100 classes: train --data --test, then evaluate --victim with mad-argmax in 2 workers", async () => {
  await writeImageFolder(path("c100", "train"), syntheticImages({ perClass: 8, seed: 1 }));
  await writeImageFolder(path("c100", "test"), syntheticImages({ perClass: 3, seed: 2 }));
  const pool = syntheticImages({ perClass: 4, seed: 3 });
  await writeImageFolder(path("c100", "pool"), { images: pool.images, count: pool.count, inputShape: pool.inputShape });

  const train = await cli("train", "--data", path("c100", "train"), "--test", path("c100", "test"), "--arch", "lenet", "--epochs", "2", "--lr", "0.05", "--momentum", "0.9",
    "--out", path("c100", "victim"));
  assert.is(train.code, 0, train.err);
  assert.match(train.out, /data: 800 images of .*train \(image-folder, \[32x32x3\], 100 classes\); architecture lenet/);
  const accuracy = Number(/test accuracy ([\d.]+)% on 300 images/.exec(train.out)?.[1]);
  assert.ok(accuracy > 5, `the victim learns something (chance is 1 %): ${train.out}`);
  const meta = JSON.parse(readFileSync(path("c100", "victim", "victim.json"), "utf8")) as { classNames: string[]; numClasses: number; source: { test: string } };
  assert.is(meta.numClasses, 100);
  assert.is(meta.classNames[42], "class-42");
  assert.match(meta.source.test, /c100\/test$/);

  const out = path("c100", "report");
  const run = await cli("evaluate", "--victim", path("c100", "victim"), "--test", path("c100", "test"), "--transfer", path("c100", "pool"),
    "--attacks", "knockoff,jbtop3", "--defenses", "none,mad-argmax", "--grid", "mad-argmax:epsilon=1", "--budget", "150", ...thiefEpochs,
    "--thief-params", "jbtop3:epochs=1:finalEpochs=1", "--held-out", "40", "--workers", "2", "--out", out);
  assert.is(run.code, 0, run.err + run.out);
  assert.match(run.out, /victim: .*victim \(LayersModel, input \[32x32x3\], 100 classes, outputs logits; victim\.json: lenet/);
  assert.match(run.out, /JB seeds: 40 images of the test set \(seeded choice\), withheld from it: the test set keeps 260/);
  assert.match(run.out, /thieves' architecture: lenet \(the victim's own architecture, from its victim\.json\); MAD's proxy: a scratch lenet/);
  const report = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as {
    meta: { dataset: string; user: { testLabels: string; thiefArch: string }; victim: { testImages: number } };
    points: { attack: string; defense: string; defenderAccuracy: number; victimAccuracy: number; l1Mean: number; top1Agreement: number; transferSet: string }[];
  };
  assert.is(report.meta.dataset, "victim");
  assert.is(report.meta.user.testLabels, "given");
  assert.is(report.meta.victim.testImages, 260);
  assert.is(report.points.length, 6);
  assert.equal([...new Set(report.points.map((p) => p.attack))].sort(), ["jbtop3", "knockoff", "top1"]);
  for (const p of report.points.filter((q) => q.defense === "mad-argmax")) {
    // MAD-argmax keeps the victim's top-1 and moves the answers.
    assert.is(p.defenderAccuracy, p.victimAccuracy);
    assert.is(p.top1Agreement, 1);
    assert.ok(p.l1Mean > 0.1, `L1 ${p.l1Mean}`);
  }
  assert.is(report.points.find((p) => p.attack === "knockoff")!.transferSet, "pool");
  assert.is(report.points.find((p) => p.attack === "jbtop3")!.transferSet, "test seeds");
  const md = readFileSync(join(out, "results.md"), "utf8");
  assert.match(md, /Test set: .*test \(300 images, image-folder, 100 classes\)\. Transfer set \(Knockoff's pool\): .*pool \(400 images, unlabeled-folder, unlabeled\)/);
  assert.ok(existsSync(join(out, "results.csv")));
  assert.ok(readdirSync(join(out, "plots")).includes("worst-case-vs-defender.svg"));

  // The same colour, 100-class victim served with MAD-argmax: 100 probabilities per answer, the victim's top-1 kept.
  const children: ChildProcess[] = [];
  try {
    const server = await startServe(["--model", path("c100", "victim"), "--defense", "mad-argmax", "--epsilon", "1", "--workers", "1", "--port", "0"], children);
    const queries = syntheticImages({ perClass: 1, seed: 9 });
    const batch = { data: queries.images.subarray(0, 8 * 32 * 32 * 3), batchSize: 8, inputShape: [32, 32, 3] };
    const res = await fetch(`${server.url}/v1/predict`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ data: encodeFloat32Base64(batch.data), shape: [8, 32, 32, 3] }),
    });
    assert.is(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { probabilities: number[][]; labels: number[] };
    assert.is(body.probabilities.length, 8);
    await initBackend();
    const victim = new TfjsClassifier(await loadModelFromDir(path("c100", "victim")), { outputs: "logits" });
    const own = argmaxRows(await victim.predict(batch), 8, 100);
    victim.dispose();
    body.probabilities.forEach((row, i) => {
      assert.is(row.length, 100);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4 && row.every((p) => p >= 0), `row ${i} on the simplex`);
      assert.is(row.indexOf(Math.max(...row)), own[i], `row ${i}: the victim's top-1 kept`);
    });
  } finally {
    for (const c of children) c.kill("SIGKILL");
  }
});

test("greyscale folder: train --data holds out a test share; evaluate on an unlabeled test folder reports fidelity; NPY pool", async () => {
  const data = syntheticImages({ perClass: 30, numClasses: 10, size: 16, channels: 1, seed: 4 });
  await writeImageFolder(path("g10", "train"), data);
  const train = await cli("train", "--data", path("g10", "train"), "--epochs", "2", "--lr", "0.05", "--momentum", "0.9", "--out", path("g10", "victim"));
  assert.is(train.code, 0, train.err);
  assert.match(train.out, /no --test: holding out 60 of the 300 images \(--test-fraction 0\.2, seed 0\) for testing/);
  assert.match(train.out, /architecture lenet \(chosen from the input shape; --arch to change\)/);
  const unlabeled = syntheticImages({ perClass: 5, numClasses: 10, size: 16, channels: 1, seed: 5 });
  await writeImageFolder(path("g10", "test"), { images: unlabeled.images, count: unlabeled.count, inputShape: unlabeled.inputShape });
  writeNpyData(path("g10", "pool"), syntheticImages({ perClass: 10, numClasses: 10, size: 16, channels: 1, seed: 6 }));
  const out = path("g10", "report");
  const run = await cli("evaluate", "--victim", path("g10", "victim"), "--test", path("g10", "test"), "--transfer", path("g10", "pool"),
    "--attacks", "knockoff", "--defenses", "none,mad", "--grid", "mad:epsilon=0.5", "--budget", "100", ...thiefEpochs,
    "--thief-arch", "mlp", "--outputs", "logits", "--workers", "1", "--out", out);
  assert.is(run.code, 0, run.err + run.out);
  assert.match(run.out, /has no labels: accuracies are reported as agreement with the victim's top-1 \(fidelity\)/);
  assert.match(run.out, /JB seeds: none \(no JB thief\)/);
  assert.match(run.out, /thieves' architecture: mlp \(--thief-arch\); MAD's proxy: a scratch mlp/);
  const report = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as {
    meta: { victimAccuracy: number; user: { testLabels: string } };
    points: { thiefAccuracy: number; fidelity: number }[];
  };
  assert.is(report.meta.victimAccuracy, 1);
  assert.is(report.meta.user.testLabels, "victim");
  for (const p of report.points) assert.is(p.thiefAccuracy, p.fidelity);
  assert.match(readFileSync(join(out, "results.md"), "utf8"), /The test set has no labels: every accuracy in this report .* is agreement with the victim's top-1/);
});

/** A converted-TensorFlow graph written by hand: x[?, 8, 8, 1] -> Reshape [?, 64] -> MatMul(w[64, 3]) -> Softmax. */
function writeGraphModel(target: string): void {
  mkdirSync(target, { recursive: true });
  const f = { type: "DT_FLOAT" };
  const random = seeded(11, "splitmix32").uniform;
  const w = Float32Array.from({ length: 64 * 3 }, () => random() * 2 - 1);
  const shape = Int32Array.of(-1, 64);
  const topology = {
    node: [
      { name: "x", op: "Placeholder", attr: { dtype: f, shape: { shape: { dim: [{ size: "-1" }, { size: "8" }, { size: "8" }, { size: "1" }] } } } },
      { name: "shape", op: "Const", attr: { dtype: { type: "DT_INT32" }, value: { tensor: { dtype: "DT_INT32", tensorShape: { dim: [{ size: "2" }] } } } } },
      { name: "flat", op: "Reshape", input: ["x", "shape"], attr: { T: f, Tshape: { type: "DT_INT32" } } },
      { name: "w", op: "Const", attr: { dtype: f, value: { tensor: { dtype: "DT_FLOAT", tensorShape: { dim: [{ size: "64" }, { size: "3" }] } } } } },
      { name: "logits", op: "MatMul", input: ["flat", "w"], attr: { T: f, transpose_a: { b: false }, transpose_b: { b: false } } },
      { name: "probs", op: "Softmax", input: ["logits"], attr: { T: f } },
    ],
    versions: { producer: 1 },
  };
  const weights = new Uint8Array(shape.byteLength + w.byteLength);
  weights.set(new Uint8Array(shape.buffer), 0);
  weights.set(new Uint8Array(w.buffer), shape.byteLength);
  writeFileSync(join(target, "weights.bin"), weights);
  writeFileSync(join(target, "model.json"), JSON.stringify({
    format: "graph-model", generatedBy: "test", convertedBy: "hand", modelTopology: topology,
    weightsManifest: [{ paths: ["./weights.bin"], weights: [{ name: "shape", shape: [2], dtype: "int32" }, { name: "w", shape: [64, 3], dtype: "float32" }] }],
  }));
}

test("a GraphModel victim with probability outputs, NPY test set, architecture chosen from its 8x8x1 input", async () => {
  writeGraphModel(path("graph", "victim"));
  const random = seeded(12, "splitmix32").uniform;
  const pixels = (n: number) => Uint8Array.from({ length: n * 64 }, () => Math.floor(random() * 256));
  mkdirSync(path("graph", "test"), { recursive: true });
  writeFileSync(path("graph", "test", "images.npy"), encodeNpy([60, 8, 8], "uint8", pixels(60)));
  writeFileSync(path("graph", "test", "labels.npy"), encodeNpy([60], "int32", Array.from({ length: 60 }, (_, i) => i % 3)));
  mkdirSync(path("graph", "pool"), { recursive: true });
  // 16x16 images: resized to the victim's 8x8.
  writeFileSync(path("graph", "pool", "images.npy"), encodeNpy([200, 16, 16], "uint8", pixels(800)));
  const out = path("graph", "report");
  const run = await cli("evaluate", "--victim", path("graph", "victim"), "--outputs", "probabilities", "--test", path("graph", "test"),
    "--transfer", path("graph", "pool"), "--attacks", "knockoff", "--defenses", "none,mad-argmax", "--grid", "mad-argmax:epsilon=0.5", "--budget", "100",
    ...thiefEpochs, "--workers", "1", "--out", out);
  assert.is(run.code, 0, run.err + run.out);
  assert.match(run.out, /victim: .*victim \(GraphModel, input \[8x8x1\], 3 classes, outputs probabilities\)/);
  assert.match(run.out, /thieves' architecture: mlp \(chosen from the input shape 8x8x1\)/);
  assert.match(run.out, /transfer set \(Knockoff's pool\): .*pool \(200 images, npy, unlabeled\)/);
  const report = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { points: { defense: string; defenderAccuracy: number; victimAccuracy: number }[] };
  assert.is(report.points.length, 4);
  for (const p of report.points) assert.is(p.defenderAccuracy, p.victimAccuracy);
});

test("flag errors (exit 2) and data errors (exit 1), each naming the flag or the path", async () => {
  mkdirSync(path("errors", "loose"), { recursive: true });
  const loose = syntheticImages({ perClass: 2, numClasses: 2, size: 20, seed: 7 });
  await writeImageFolder(path("errors", "loose"), { images: loose.images, count: loose.count, inputShape: loose.inputShape });
  await writeImageFolder(path("errors", "labelled"), loose);
  await writeImageFolder(path("errors", "other-classes"), { ...loose, classNames: ["class-00", "zebra"] });
  const cases: [string[], number, RegExp][] = [
    [["evaluate", "--test", path("errors", "loose")], 2, /--test .*: applies to your own model only: give --victim DIR/],
    [["evaluate", "--transfer", path("errors", "loose")], 2, /--transfer .*loose: expected one of auto, fashion-mnist, heldout, mnist \(a path to your images needs --victim\)/],
    [["evaluate", "--victim", path("g10", "victim"), "--transfer", path("errors", "loose")], 2, /--victim .*: needs --test PATH/],
    [["evaluate", "--victim", path("g10", "victim"), "--test", path("errors", "loose"), "--transfer", path("errors", "loose"), "--defenses", "grad2,adaptive-misinformation"], 2,
      /grad2, adaptive-misinformation need models trained on the victim's training data, which --victim does not come with/],
    [["evaluate", "--victim", path("errors", "no-model"), "--test", path("errors", "loose"), "--transfer", path("errors", "loose"), "--budget", "10"], 1, /victim .*no-model: does not exist/],
    [["evaluate", "--victim", path("c100", "victim"), "--test", path("errors", "other-classes"), "--transfer", path("errors", "loose"), "--budget", "10"], 1,
      /other-classes\/zebra: is not one of the model's classes/],
    [["train", "--data", path("errors", "loose"), "--out", path("errors", "v")], 1, /--data .*loose: the images have no labels \(unlabeled-folder\)/],
    [["train", "--data", path("errors", "labelled"), "--arch", "vgg", "--out", path("errors", "v")], 1, /vgg needs height and width divisible by 8, got \[20,20,3\]; architectures that take \[20,20,3\]: lenet, mlp/],
    [["train", "--data", path("errors", "missing"), "--out", path("errors", "v")], 1, /missing: does not exist/],
    [["train", "--test", path("errors", "labelled"), "--out", path("errors", "v")], 1, /--test applies to --data \(your own images\) only/],
    [["train", "--data", path("errors", "labelled"), "--input-shape", "20x20", "--out", path("errors", "v")], 2, /expected HEIGHTxWIDTHxCHANNELS/],
  ];
  const results = await Promise.all(cases.map(([args]) => cli(...args)));
  cases.forEach(([args, code, message], i) => {
    assert.is(results[i].code, code, `${args.join(" ")}\n${results[i].err}`);
    assert.match(results[i].err, message, args.join(" "));
    assert.not.match(results[i].err, /\n\s+at /, "no stack trace");
  });
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
