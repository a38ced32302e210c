// Load test of the HTTP service on loopback: `serve --model demo` (the MNIST LeNet) started as a child
// process per defense, then autocannon for a fixed time with single-digit requests (the usual API
// call) from a fixed pool of 16 test digits. Bounded: BENCH_SERVICE_SECONDS (default 10) per defense.
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import autocannon from "autocannon";
import type { BenchResult } from "./run.js";
import { loadMnist } from "../src/models/datasets.js";
import { ensureDemoModel } from "../src/service/node/demo-model.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const seconds = Number(process.env.BENCH_SERVICE_SECONDS ?? 10);
const connections = Number(process.env.BENCH_SERVICE_CONNECTIONS ?? 16);
const workers = Number(process.env.BENCH_SERVICE_WORKERS ?? availableParallelism());
/** "demo" (the MNIST LeNet, trained on first use) or a model directory of the same input shape. */
const model = process.env.BENCH_SERVICE_MODEL ?? "demo";

export const defenses = [
  { name: "none", flags: ["--defense", "none"] },
  { name: "mad-argmax", flags: ["--defense", "mad-argmax", "--epsilon", "1"] },
];

/** Starts `serve` as a child process; resolves with its URL once it prints "listening on". */
function startServe(flags: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "src/cli/index.ts"), "serve", "--model", model, "--port", "0", "--workers", String(workers), ...flags], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        resolve({
          url: m[1],
          stop: async () => {
            child.kill("SIGTERM");
            await exited;
          },
        });
      }
    });
    child.once("exit", (code) => reject(new Error(`serve exited (code ${code}) before listening:\n${stderr}`)));
  });
}

export async function run(): Promise<BenchResult[]> {
  if (model === "demo") await ensureDemoModel({ log: (l) => console.error(l) });
  const { test } = loadMnist({ seed: 0 });
  const pixels = 28 * 28;
  const bodies = Array.from({ length: 16 }, (_, i) => {
    const img = test.images.subarray(i * pixels, (i + 1) * pixels);
    const nested = Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_, c) => [img[r * 28 + c]]));
    return JSON.stringify({ inputs: [nested] });
  });
  const results: BenchResult[] = [];
  const rps: Record<string, number> = {};
  for (const defense of defenses) {
    const server = await startServe(defense.flags);
    try {
      // Warm up every worker (first calls compile kernels), then measure.
      await autocannon({ url: server.url, connections, amount: 200, requests: bodies.map((body) => ({ method: "POST", path: "/v1/predict", headers: { "content-type": "application/json" }, body })) });
      const r = await autocannon({
        url: server.url,
        connections,
        duration: seconds,
        requests: bodies.map((body) => ({ method: "POST", path: "/v1/predict", headers: { "content-type": "application/json" }, body })),
      });
      if (r.non2xx || r.errors) throw new Error(`service bench ${defense.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
      rps[defense.name] = r.requests.average;
      results.push(
        { name: `service.${defense.name}.rps`, value: r.requests.average, unit: "requests/s" },
        { name: `service.${defense.name}.p50`, value: r.latency.p50, unit: "ms" },
        { name: `service.${defense.name}.p99`, value: r.latency.p99, unit: "ms" },
      );
    } finally {
      await server.stop();
    }
  }
  results.push({ name: "service.mad-argmax.relative-throughput", value: rps["mad-argmax"] / rps.none, unit: "x none" });
  console.error(`service bench: ${workers} workers, ${connections} connections, ${seconds} s per defense, batch-1 JSON requests`);
  return results;
}
