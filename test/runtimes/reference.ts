// The same computations in Node, for comparison with each runtime's answers, and the float32 comparison itself.
import * as assert from "uvu/assert";
import { loadCore, type Core } from "../../src/index.js";
import { plainApp, requestInputs, tfjsApp } from "./edge/app-check.js";
import { runCoreCheck, type CoreCheckReport } from "./edge/core-check.js";

let core: Promise<Core> | undefined;
const nodeCore = () => (core ??= loadCore());

export const nodeCoreReport = async (): Promise<CoreCheckReport> => runCoreCheck(await nodeCore());

export interface PredictAnswer {
  probabilities: number[][];
  labels: number[];
}

export const predictBody = JSON.stringify({ inputs: requestInputs });

async function predict(app: { request(path: string, init: RequestInit): Response | Promise<Response> }): Promise<PredictAnswer> {
  const res = await app.request("/v1/predict", { method: "POST", headers: { "content-type": "application/json" }, body: predictBody });
  assert.is(res.status, 200, "Node's own app answers 200");
  return (await res.json()) as PredictAnswer;
}

/** Node's answer to predictBody with the models in plain JavaScript (what the workerd worker serves). */
export const nodePlainAnswer = async () => predict(plainApp(await nodeCore()));
/** Node's answer to predictBody with the tfjs models on the WASM backend (what Deno and Bun serve). */
export const nodeTfjsAnswer = async () => predict((await tfjsApp(await nodeCore())).app);

/** Equal to float32 precision: within one float32 ulp of 1 (the values are probabilities). */
export function assertSameFloat32(actual: readonly number[], expected: readonly number[], what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  const worst = actual.reduce((m, a, i) => Math.max(m, Math.abs(a - expected[i])), 0);
  assert.ok(worst <= 2 ** -23, `${what}: differs from Node's by up to ${worst} (more than float32 precision)`);
}
