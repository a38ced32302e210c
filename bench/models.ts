// Speed of the models layer on the tfjs WASM backend (one thread): a LeNet SGD-momentum training
// step at batch 64 (ms per step) side by side with the same step in PyTorch on one thread
// (bench/_lenet_torch.py on /usr/bin/python3, runs alternating with the JS ones because the machine
// is shared; skipped with a note when torch is missing), and the end-to-end cost per query of an
// undefended LeNet answer and of a MAD-argmax answer (victim forward + scratch-proxy forward + WASM
// core), ms per query.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { BenchResult } from "./run.js";
import { initBackend, tf } from "../src/models/backend.js";
import { loadMnist, type LabeledImages } from "../src/models/datasets.js";
import { Proxy } from "../src/models/proxy.js";
import { TfjsClassifier } from "../src/models/tfjs-model.js";
import { oneHot, trainableVariables, trainingStep } from "../src/models/training.js";
import { buildModel, type ModelSpec } from "../src/models/zoo.js";
import { loadCore } from "../src/core/index.js";

const BUDGET_MS = 3000;

/** Median wall time of `call` over repeated runs filling the budget (after warm-up). */
async function medianMs(call: () => Promise<void> | void, warmup = 3): Promise<number> {
  for (let i = 0; i < warmup; i++) await call();
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < BUDGET_MS || times.length < 5) {
    const t0 = performance.now();
    await call();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const PYTHON = "/usr/bin/python3"; // Debian's python3-torch installs for the system python, not pyenv's
const ROUNDS = 4;
const STEPS_PER_ROUND = 25;

/** The PyTorch step server (bench/_lenet_torch.py), or why it is not available. */
interface StepTimes {
  wall: number[];
  cpu: number[];
}

async function startTorch(): Promise<{ steps(n: number, model: string): Promise<StepTimes>; version: string; stop(): void } | string> {
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(PYTHON, [fileURLToPath(new URL("./_lenet_torch.py", import.meta.url))], { env: { ...process.env, OMP_NUM_THREADS: "1" } });
  } catch (err) {
    return `could not start ${PYTHON}: ${(err as Error).message}`;
  }
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown> | null> => {
    const { value, done } = await lines.next();
    return done ? null : JSON.parse(value);
  };
  const failed = new Promise<null>((resolve) => {
    child.on("error", (err) => {
      stderr += err.message;
      resolve(null);
    });
    child.on("exit", () => resolve(null));
  });
  const ready = await Promise.race([next(), failed]);
  if (!ready?.ready) {
    child.kill();
    return /No module named .?torch/.test(stderr) ? `torch is not installed for ${PYTHON} (apt-get install python3-torch)` : `${PYTHON} bench/_lenet_torch.py failed: ${stderr.trim().split("\n").pop() ?? "no output"}`;
  }
  return {
    version: String(ready.torch),
    async steps(n, model) {
      child.stdin.write(`steps ${n} ${model}\n`);
      const reply = await next();
      if (!reply || !Array.isArray(reply.wall) || !Array.isArray(reply.cpu)) throw new Error(`bench/_lenet_torch.py: ${JSON.stringify(reply)} ${stderr}`);
      return { wall: reply.wall as number[], cpu: reply.cpu as number[] };
    },
    stop: () => child.kill(),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall and process-CPU ms of each of `n` calls of `step` (the caller warms up). */
function timeSteps(step: () => void, n: number, into: StepTimes): void {
  for (let i = 0; i < n; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    step();
    into.wall.push(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    into.cpu.push((cpu.user + cpu.system) / 1000);
  }
}

/**
 * One LeNet training step at batch 64 on the first 64 of `digits`, SGD lr 0.01 momentum 0.5 (the victim
 * protocol), warmed up 5 steps: what `train.lenet.step.batch64` and bench/_lenet-profile.ts time.
 */
export function lenetTrainingStep(digits: LabeledImages): { model: tf.LayersModel; step: () => void; dispose: () => void } {
  const model = buildModel({ arch: "lenet", numClasses: 10, inputShape: [28, 28, 1], seed: 0 });
  const variables = trainableVariables(model);
  const optimizer = tf.train.momentum(0.01, 0.5);
  const xs = tf.tensor(digits.images.subarray(0, 64 * 784), [64, 28, 28, 1]);
  const ys = tf.tensor2d(oneHot(digits.labels.subarray(0, 64), 10), [64, 10]);
  const step = () => {
    const loss = trainingStep(model, variables, optimizer, xs, ys);
    loss.dataSync();
    loss.dispose();
  };
  for (let i = 0; i < 5; i++) step();
  return {
    model,
    step,
    // The model stays (the serving figures reuse it).
    dispose: () => {
      tf.dispose([xs, ys]);
      optimizer.dispose();
    },
  };
}

export async function run(): Promise<BenchResult[]> {
  await initBackend();
  const results: BenchResult[] = [];
  const spec: ModelSpec = { arch: "lenet", numClasses: 10, inputShape: [28, 28, 1], seed: 0 };
  const { test: digits } = loadMnist({ seed: 0 });

  const training = lenetTrainingStep(digits);
  const { model, step } = training;
  // rounds alternate JS and PyTorch, so both see the same load on the shared machine; the figures
  // that load disturbs least are the fastest step (min) and the CPU time per step (cpu)
  const torch = await startTorch();
  const js: StepTimes = { wall: [], cpu: [] };
  const torchTimes: Record<string, StepTimes> = { linear: { wall: [], cpu: [] }, "dense-as-conv": { wall: [], cpu: [] } };
  for (let round = 0; round < ROUNDS; round++) {
    timeSteps(step, STEPS_PER_ROUND, js);
    if (typeof torch !== "string") {
      for (const [model, times] of Object.entries(torchTimes)) {
        const got = await torch.steps(STEPS_PER_ROUND, model);
        times.wall.push(...got.wall);
        times.cpu.push(...got.cpu);
      }
    }
  }
  const record = (name: string, t: StepTimes) => {
    results.push({ name, value: median(t.wall), unit: "ms" });
    results.push({ name: `${name}.min`, value: Math.min(...t.wall), unit: "ms" });
    results.push({ name: `${name}.cpu`, value: median(t.cpu), unit: "ms CPU" });
  };
  record("train.lenet.step.batch64", js);
  if (typeof torch === "string") {
    console.error(`note: no PyTorch figure for train.lenet.step.batch64: ${torch}`);
  } else {
    torch.stop();
    console.error(`PyTorch ${torch.version}, one thread; "linear": torch.nn.Linear (Debian's build: generic reference BLAS), "dense-as-conv": the dense layers as oneDNN convolutions`);
    for (const [label, t] of Object.entries(torchTimes)) {
      record(`train.lenet.step.batch64.pytorch.${label}`, t);
      results.push({ name: `train.lenet.step.batch64.ratio.${label}.min`, value: Math.min(...js.wall) / Math.min(...t.wall), unit: "x (JS/PyTorch, fastest steps)" });
      results.push({ name: `train.lenet.step.batch64.ratio.${label}.cpu`, value: median(js.cpu) / median(t.cpu), unit: "x (JS/PyTorch, median CPU per step)" });
    }
  }
  training.dispose();

  // serving: the (untrained: speed does not depend on the weights) victim and a scratch proxy
  const victim = new TfjsClassifier(model);
  const proxy = Proxy.scratch({ ...spec, seed: 1 });
  const core = await loadCore();
  const perturber = core.createPerturber({ oracle: "argmax", objective: "angular", distance: "l1", epsilon: 1 });
  for (const batchSize of [1, 64]) {
    const batch = { data: digits.images.subarray(0, batchSize * 784), batchSize, inputShape: [28, 28, 1] };
    const predict = await medianMs(async () => {
      await victim.predict(batch);
    });
    results.push({ name: `e2e.lenet.predict.batch${batchSize}`, value: predict / batchSize, unit: "ms/query" });
    const mad = await medianMs(async () => {
      const probs = await victim.predict(batch);
      const proxyProbs = await proxy.probs(batch);
      perturber.perturb(probs, 10, { kind: "probs", proxyProbs });
    });
    results.push({ name: `e2e.lenet.mad-argmax.batch${batchSize}`, value: mad / batchSize, unit: "ms/query" });
  }
  victim.dispose();
  proxy.dispose();
  return results;
}
