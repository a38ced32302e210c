// workerd (the runtime of Cloudflare Workers) serves the package's edge entry bundled by esbuild: the WASM core
// from the precompiled module workerd makes of core.wasm, and the HTTP app with its models in plain JavaScript.
// workerd forbids compiling WASM from bytes at run time; two tests pin down what that rules out, and the last
// one runs the app over tfjs models with tfjs' own .wasm handed over precompiled (test/runtimes/edge/workerd-tfjs-shim.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { needs } from "../tools.js";
import { assertCoreReport, assertPredictAnswer } from "./checks.js";
import { fetchWithin, stopAll } from "./child.js";
import type { CoreCheckReport } from "./edge/core-check.js";
import { nodePlainAnswer, nodeTfjsAnswer, predictBody, type PredictAnswer } from "./reference.js";
import { startWorkerd, type Workerd } from "./workerd.js";

const it = needs("workerd", test);
let running: Promise<Workerd> | undefined;
// one workerd for the file, started by the first test that runs (none when skipped)
const workerd = () => (running ??= startWorkerd(180_000));
const get = async (path: string) => (await fetchWithin(`${(await workerd()).url}${path}`)).json();

test.after(async () => {
  await (await running?.catch(() => undefined))?.stop();
  await stopAll();
});

it("workerd: the core from a precompiled WebAssembly.Module perturbs a batch with mad-argmax and reverse-sigmoid as in Node", async () => {
  await assertCoreReport((await get("/core")) as CoreCheckReport, /^workerd$/);
});

it("workerd: the app answers POST /v1/predict as in Node", async () => {
  const res = await fetchWithin(`${(await workerd()).url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: predictBody });
  assert.is(res.status, 200);
  assertPredictAnswer((await res.json()) as PredictAnswer, await nodePlainAnswer(), "workerd");
});

it("workerd: loadCore() without a Module fails, as workerd compiles no WASM from bytes at run time", async () => {
  const probe = (await get("/core-from-bytes")) as { started: boolean; error?: string };
  assert.is(probe.started, false);
  assert.is(probe.error, "CompileError: WebAssembly.compile(): Wasm code generation disallowed by embedder");
});

it("workerd: tfjs' WASM backend does not start (emscripten's Node path; without `process`, no way to load its .wasm)", async () => {
  const asIs = (await get("/tfjs")) as { started: boolean; error?: string; logs: string[] };
  assert.is(asIs.started, false);
  assert.match(asIs.error!, /could not start the tfjs WASM backend/);
  assert.ok(asIs.logs.some((l) => l.startsWith("ReferenceError: __dirname is not defined")), asIs.logs.join("\n"));
  const web = (await get("/tfjs?web=1")) as { started: boolean; logs: string[] };
  assert.is(web.started, false);
  assert.ok(web.logs.some((l) => l.includes("Aborted(both async and sync fetching of the wasm failed)")), web.logs.join("\n"));
});

it("workerd: with tfjs' .wasm handed over precompiled (a shim), the app over tfjs models answers POST /v1/predict as in Node", async () => {
  const res = await fetchWithin(`${(await workerd()).secondUrl}/tfjs-from-module/v1/predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: predictBody,
  });
  assert.is(res.status, 200, await res.clone().text());
  assert.equal(JSON.parse(res.headers.get("x-tfjs-backend")!), { backend: "wasm", simd: true, threads: false });
  assertPredictAnswer((await res.json()) as PredictAnswer, await nodeTfjsAnswer(), "workerd (tfjs)");
});

test.run();
