// The tests Deno and Bun share: each runs test/runtimes/edge/main.ts, the package's edge entry from its
// TypeScript sources, first for the core check (one JSON line), then serving the app on a free port.
import type { Test } from "uvu";
import * as assert from "uvu/assert";
import { fileURLToPath } from "node:url";
import { needs, runtimeBinary, type EdgeRuntime } from "../tools.js";
import { assertCoreReport, assertPredictAnswer } from "./checks.js";
import type { CoreCheckReport } from "./edge/core-check.js";
import { fetchWithin, run, start, stopAll } from "./child.js";
import { nodeTfjsAnswer, predictBody, type PredictAnswer } from "./reference.js";

const main = fileURLToPath(new URL("./edge/main.ts", import.meta.url));

export function scriptRuntimeTests(runtime: EdgeRuntime, test: Test, argsBefore: readonly string[]): void {
  const it = needs(runtime, test);
  const command = (mode: string) => [...argsBefore, main, mode];
  test.after(stopAll);

  it(`${runtime}: the core (embedded bytes) perturbs a batch with mad-argmax and reverse-sigmoid as in Node`, async () => {
    const stdout = await run(runtimeBinary(runtime), command("core"), { deadlineMs: 60_000 });
    const line = stdout.split("\n").find((l) => l.startsWith("{"));
    assert.ok(line, `no JSON line in:\n${stdout}`);
    await assertCoreReport(JSON.parse(line!) as CoreCheckReport, new RegExp(`^${runtime} \\d`));
  });

  it(`${runtime}: the app with tfjs models on the WASM backend answers POST /v1/predict as in Node`, async () => {
    const p = start(runtimeBinary(runtime), command("serve"), { deadlineMs: 90_000 });
    try {
      const [, url] = await p.waitFor(/^listening on (\S+)$/m, 60_000);
      const backend = JSON.parse(/^backend (.+)$/m.exec(p.stdout())![1]) as { backend: string };
      assert.is(backend.backend, "wasm");
      const res = await fetchWithin(`${url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json" }, body: predictBody });
      assert.is(res.status, 200, `${runtime} answers 200`);
      assertPredictAnswer((await res.json()) as PredictAnswer, await nodeTfjsAnswer(), runtime);
      const info = (await (await fetchWithin(`${url}/v1/model`)).json()) as { defense: { name: string }; inputShape: number[] };
      assert.is(info.defense.name, "mad-argmax");
      assert.equal(info.inputShape, [2, 2, 1]);
    } finally {
      await p.stop();
    }
  });
}
