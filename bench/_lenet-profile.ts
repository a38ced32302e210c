// Where a LeNet training step's time goes, kernel by kernel: every wasm kernel is wrapped in a timer
// (self time: a kernel composed of other kernels is charged only for its own work), grouped by kernel
// and input shapes, then by what the kernel does in the step (conv2's filter gradient, the optimizer,
// ...); what the kernels do not account for is tfjs's own work (the gradient tape, tidy, tensor
// bookkeeping) and the loss read-back. Minima over the steps: on a shared machine noise only adds.
// Usage: node --import tsx bench/_lenet-profile.ts [steps]
import { initBackend, tf } from "../src/models/backend.js";
import { loadMnist } from "../src/models/datasets.js";
import { lenetTrainingStep } from "./models.js";

const steps = Number(process.argv[2] ?? 40);
await initBackend();

interface Slot { label: string; ms: number[]; calls: number }
const slots = new Map<string, Slot>();
let current: Map<string, number> | null = null; // this step's self time per label
const stack: { label: string; started: number; children: number }[] = [];

for (const config of tf.getKernelsForBackend("wasm")) {
  const inner = config.kernelFunc;
  tf.unregisterKernel(config.kernelName, "wasm");
  tf.registerKernel({
    ...config,
    kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap }) => {
      if (!current) return inner(args as never);
      const shapes = Object.entries(args.inputs).map(([k, t]) => `${k}[${t?.shape}]`).join(" ");
      const frame = { label: `${config.kernelName} ${shapes}`, started: performance.now(), children: 0 };
      stack.push(frame);
      try {
        return inner(args as never);
      } finally {
        stack.pop();
        const total = performance.now() - frame.started;
        current.set(frame.label, (current.get(frame.label) ?? 0) + total - frame.children);
        if (stack.length) stack[stack.length - 1].children += total;
        if (!slots.has(frame.label)) slots.set(frame.label, { label: frame.label, ms: [], calls: 0 });
        slots.get(frame.label)!.calls++;
      }
    }) as tf.KernelFunc,
  });
}

const { step } = lenetTrainingStep(loadMnist({ seed: 0 }).test);

const totals: number[] = [];
const cpus: number[] = [];
const perStep: Map<string, number>[] = [];
for (let i = 0; i < steps; i++) {
  current = new Map();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  step();
  totals.push(performance.now() - t0);
  const cpu = process.cpuUsage(cpu0);
  cpus.push((cpu.user + cpu.system) / 1000);
  perStep.push(current);
  current = null;
}
// the fastest step, and for each kernel its own fastest call set: noise on a shared machine only adds
const best = totals.indexOf(Math.min(...totals));
const min = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [...slots.values()].map((s) => {
  const values = perStep.map((m) => m.get(s.label) ?? 0);
  return { label: s.label, calls: s.calls / steps, min: min(values), median: median(values), inBest: perStep[best].get(s.label) ?? 0 };
}).sort((a, b) => b.median - a.median);
const kernelsMin = rows.reduce((a, r) => a + r.min, 0);
console.log(`steps ${steps}: wall min ${min(totals).toFixed(1)} ms, median ${median(totals).toFixed(1)} ms; process CPU min ${min(cpus).toFixed(1)} ms, median ${median(cpus).toFixed(1)} ms`);
console.log(`${"kernel (inputs)".padEnd(86)} calls  min ms  median ms`);
for (const r of rows) if (r.median >= 0.05) console.log(`${r.label.slice(0, 86).padEnd(86)} ${r.calls.toFixed(0).padStart(5)} ${r.min.toFixed(2).padStart(7)} ${r.median.toFixed(2).padStart(10)}`);
const rest = rows.filter((r) => r.median < 0.05);
console.log(`${`${rest.length} other kernel/shape pairs (each < 0.05 ms)`.padEnd(86)} ${rest.reduce((a, r) => a + r.calls, 0).toFixed(0).padStart(5)} ${rest.reduce((a, r) => a + r.min, 0).toFixed(2).padStart(7)} ${rest.reduce((a, r) => a + r.median, 0).toFixed(2).padStart(10)}`);
const inBestKernels = rows.reduce((a, r) => a + r.inBest, 0);
console.log(`fastest step ${totals[best].toFixed(1)} ms: kernels ${inBestKernels.toFixed(1)} ms, outside kernels (tape, tidy, bookkeeping, read-back) ${(totals[best] - inBestKernels).toFixed(1)} ms; sum of per-kernel minima ${kernelsMin.toFixed(1)} ms`);

// ---- by what the kernel does in LeNet's step (the zoo's lenet, batch 64) ----
const weightShapes = new Set(["5,5,1,20", "20", "5,5,20,50", "50", "800,500", "500", "500,10", "10"]);
function role(label: string): string {
  const [kernel] = label.split(" ");
  const shapes = [...label.matchAll(/\[([0-9,]*)\]/g)].map((m) => m[1]);
  const has = (text: string) => label.includes(text);
  if (kernel === "Conv2D") return has("x[64,28,28,1]") ? "conv1 forward" : "conv2 forward";
  if (kernel === "Conv2DBackpropFilter") return has("x[64,28,28,1]") ? "conv1 filter gradient" : "conv2 filter gradient";
  if (kernel === "Conv2DBackpropInput") return "conv2 input gradient";
  if (kernel === "BatchMatMul" || kernel === "_FusedMatMul" || kernel === "Transpose") {
    if (has("a[4096,50] b[50,500]")) return "conv2 input gradient";
    if (has("a[500,4096]")) return "conv2 filter gradient";
    if (has("a[25,36864]")) return "conv1 filter gradient";
    if (has("a[64,800] b[800,500]")) return "fc1 forward";
    if (shapes.some((s) => s.split(",").includes("10"))) return "logits layer (forward and gradients)";
    if (shapes.some((s) => /(^|,)(800|500)(,|$)/.test(s))) return "fc1 gradients";
  }
  if (kernel === "MaxPoolGrad") return "max-pool gradients";
  if (kernel === "MaxPool") return "max-pool forward";
  if ((kernel === "Multiply" || kernel === "Add" || kernel === "Sub") && shapes.length === 2 &&
      shapes.every((s) => s === "" || weightShapes.has(s)) && shapes.some((s) => s !== "")) return "optimizer (momentum update)";
  if (kernel === "Add" && shapes.length === 2 && shapes[1].split(",").length === 1 && shapes[0].split(",").length > 1) return "bias add";
  if (kernel === "Sum" && !shapes[0].endsWith(",10")) return "bias gradients (Sum)";
  if (["Relu", "Step", "Cast", "Greater", "Multiply"].includes(kernel) && shapes.every((s) => !s.endsWith(",10") && s !== "")) {
    return has("[64,28,28,1]") ? "input normalisation" : "ReLU and its gradient";
  }
  if (kernel === "Identity") return "Identity (the engine's clones)";
  if (shapes.some((s) => s.endsWith(",10") || s === "64" || s === "")) return "softmax / cross-entropy / loss";
  return `other (${kernel})`;
}
const byRole = new Map<string, { min: number; median: number }>();
for (const r of rows) {
  const k = role(r.label);
  const entry = byRole.get(k) ?? { min: 0, median: 0 };
  entry.min += r.min;
  entry.median += r.median;
  byRole.set(k, entry);
}
console.log(`\n${"by role in the step".padEnd(44)} min ms  median ms`);
for (const [k, v] of [...byRole.entries()].sort((a, b) => b[1].min - a[1].min)) console.log(`${k.padEnd(44)} ${v.min.toFixed(2).padStart(6)} ${v.median.toFixed(2).padStart(10)}`);
console.log(`${"outside kernels (fastest step)".padEnd(44)} ${(totals[best] - inBestKernels).toFixed(2).padStart(6)}`);
