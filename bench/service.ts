// Load test of the HTTP service on loopback: `serve --model demo` (the MNIST LeNet) started as a child
// process per defense, then autocannon for a fixed time with single-digit requests (the usual API
// call) from a fixed pool of 16 test digits. Bounded: BENCH_SERVICE_SECONDS (default 10) per defense.
// Then a flood against the bounded queue: one worker, mad-argmax, --max-queue 64, requests of 64
// digits; the p99 latency of the admitted (200) answers against the p99 of the same request unloaded.
// BENCH_SERVICE_PARTS=throughput,flood (default both) picks the parts.
import { spawn } from "node:child_process";
import { availableParallelism, getPriority, setPriority } from "node:os";
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
const parts = new Set((process.env.BENCH_SERVICE_PARTS ?? "throughput,flood").split(",").map((p) => p.trim()));
const floodConnections = Number(process.env.BENCH_SERVICE_FLOOD_CONNECTIONS ?? 256);
const floodRequests = Number(process.env.BENCH_SERVICE_FLOOD_REQUESTS ?? 2000);
// --max-queue bounds to flood: 64 (one batch may wait per worker) and 0 (a query is admitted only when a worker is free).
const floodQueues = (process.env.BENCH_SERVICE_FLOOD_QUEUES ?? "64,0").split(",").map((q) => Number(q.trim()));

export const defenses = [
  { name: "none", flags: ["--defense", "none"] },
  { name: "mad-argmax", flags: ["--defense", "mad-argmax", "--epsilon", "1"] },
];

/** Starts `serve` as a child process; resolves with its URL once it prints "listening on". */
function startServe(flags: string[], workerCount = workers): Promise<{ url: string; stop: () => Promise<void>; stdout: () => string }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "src/cli/index.ts"), "serve", "--model", model, "--port", "0", "--workers", String(workerCount), ...flags], {
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
          stdout: () => out,
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
  if (parts.has("flood")) for (const queue of floodQueues) results.push(...(await flood(test.images, queue)));
  if (!parts.has("throughput")) return results;
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

const p99 = (ms: number[]): number => {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)] ?? NaN;
};

/** Runs autocannon and records each answer's status and latency (autocannon's own percentiles mix 503s in). */
async function measured(options: autocannon.Options): Promise<{ result: autocannon.Result; admitted: number[]; statuses: Map<number, number> }> {
  const admitted: number[] = [];
  const statuses = new Map<number, number>();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on("response", (_client, status, _bytes, ms) => {
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 200) admitted.push(ms);
    });
  });
  return { result, admitted, statuses };
}

/**
 * The flood, bounded: 2,000 requests of 64 digits at 256 connections on one worker, at one --max-queue
 * bound. At 64 an admitted query may wait for the batch in progress and one ahead of it; at 0 it never waits for
 * another's batch, so its p99 should stay within 2x of the unloaded p99. The rest get 503 with Retry-After at once.
 */
async function flood(images: Float32Array, maxQueue: number): Promise<BenchResult[]> {
  const pixels = 28 * 28;
  const nested = Array.from({ length: 64 }, (_, i) => {
    const img = images.subarray(i * pixels, (i + 1) * pixels);
    return Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_, c) => [img[r * 28 + c]]));
  });
  const request = { method: "POST" as const, path: "/v1/predict", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: nested }) };
  const server = await startServe(["--defense", "mad-argmax", "--epsilon", "1", "--access-log", "--max-queue", String(maxQueue)], 1);
  // The server's own view, from its access log: ms from the request's headers to its answer (upload, parse,
  // queue, model), without the load generator's own delays (on a small machine it competes for the cores).
  const logged = (from: number, afterBody = false): number[] =>
    server
      .stdout()
      .split("\n")
      .slice(from)
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { status: number; ms: number; bodyMs: number })
      .filter((e) => e.status === 200)
      .map((e) => (afterBody ? e.ms - e.bodyMs : e.ms));
  const lineCount = () => server.stdout().split("\n").length - 1;
  // The load generator shares the machine's cores with the server: give it a lower priority, so the server's
  // time is the server's (as with clients on other machines); the priority is restored afterwards.
  const priority = getPriority();
  setPriority(Math.min(19, priority + 10));
  try {
    await autocannon({ url: server.url, connections: 1, amount: 20, requests: [request] }); // warm-up
    let mark = lineCount();
    const unloaded = await measured({ url: server.url, connections: 1, amount: 100, requests: [request] });
    const unloadedServer = logged(mark);
    const unloadedOwn = logged(mark, true);
    mark = lineCount();
    const loaded = await measured({ url: server.url, connections: floodConnections, amount: floodRequests, timeout: 60, requests: [request] });
    const loadedServer = logged(mark);
    const serverRatio = p99(loadedServer) / p99(unloadedServer);
    // The server's own part (from the body received to the answer: validation, the queue, the model).
    const loadedOwn = logged(mark, true);
    const ownRatio = p99(loadedOwn) / p99(unloadedOwn);
    const other = [...loaded.statuses].filter(([status]) => status !== 200 && status !== 503).reduce((a, [, n]) => a + n, 0);
    const failures = loaded.result.errors + loaded.result.timeouts + other;
    const ratio = p99(loaded.admitted) / p99(unloaded.admitted);
    console.error(
      `service flood (--max-queue ${maxQueue}): ${floodRequests} requests of 64 digits at ${floodConnections} connections, 1 worker: ${JSON.stringify(Object.fromEntries(loaded.statuses))}, ` +
        `${loaded.result.errors} socket errors, ${loaded.result.timeouts} timeouts, ${loaded.result.requests.sent} sent, ${loaded.result.resets} resets; admitted p99 ${p99(loaded.admitted).toFixed(0)} ms vs unloaded ${p99(unloaded.admitted).toFixed(0)} ms ` +
        `(${ratio.toFixed(2)}x, target <= 2); server-side ${p99(loadedServer)} vs ${p99(unloadedServer)} ms (${serverRatio.toFixed(2)}x), of which after the body ${p99(loadedOwn)} vs ${p99(unloadedOwn)} ms (${ownRatio.toFixed(2)}x)`,
    );
    return [
      { name: `service.flood.queue${maxQueue}.unloaded-p99`, value: p99(unloaded.admitted), unit: "ms" },
      { name: `service.flood.queue${maxQueue}.admitted-p99`, value: p99(loaded.admitted), unit: "ms" },
      { name: `service.flood.queue${maxQueue}.admitted-p99-ratio`, value: ratio, unit: "x unloaded p99 (target <= 2)" },
      { name: `service.flood.queue${maxQueue}.server-unloaded-p99`, value: p99(unloadedServer), unit: "ms (access log)" },
      { name: `service.flood.queue${maxQueue}.server-admitted-p99`, value: p99(loadedServer), unit: "ms (access log)" },
      { name: `service.flood.queue${maxQueue}.server-admitted-p99-ratio`, value: serverRatio, unit: "x unloaded p99, server-side (target <= 2)" },
      { name: `service.flood.queue${maxQueue}.server-after-body-p99`, value: p99(loadedOwn), unit: "ms (access log: ms - bodyMs)" },
      { name: `service.flood.queue${maxQueue}.server-after-body-p99-ratio`, value: ownRatio, unit: "x unloaded, from the body received to the answer" },
      { name: `service.flood.queue${maxQueue}.admitted`, value: loaded.admitted.length, unit: "requests answered 200" },
      { name: `service.flood.queue${maxQueue}.rejected`, value: (loaded.statuses.get(503) ?? 0) / floodRequests, unit: "fraction answered 503" },
      { name: `service.flood.queue${maxQueue}.failures`, value: failures, unit: "socket errors, timeouts, other statuses" },
    ];
  } finally {
    setPriority(priority);
    await server.stop();
  }
}
