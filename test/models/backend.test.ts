import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { backendInfo, initBackend } from "../../src/models/backend.js";
import { tf } from "./helpers.js";

test("initBackend is idempotent and runs on wasm with SIMD in Node", async () => {
  const a = initBackend();
  const b = initBackend();
  assert.is(a, b);
  const info = await a;
  assert.is(info.backend, "wasm");
  assert.is(tf.getBackend(), "wasm");
  assert.equal(backendInfo(), info);
  assert.is(info.simd, true);
});

test("missing .wasm files give an error naming them, not a silent cpu fallback", () => {
  const script = `
    import { initBackend } from "./src/models/backend.ts";
    import * as tf from "@tensorflow/tfjs";
    try { await initBackend({ wasmPaths: "/nonexistent/wasm/" }); console.log("INIT OK " + tf.getBackend()); }
    catch (e) { console.log("ERROR " + e.message + " | backend " + tf.getBackend()); }`;
  const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.match(run.stdout, /ERROR could not start the tfjs WASM backend: its .wasm files .* "\/nonexistent\/wasm\/"/);
  assert.match(run.stdout, /Refusing to fall back/);
  assert.not.match(run.stdout, /INIT OK/);
});

test("kernels: false keeps tfjs's own WASM kernels (the project's replace them process-wide otherwise)", () => {
  const script = (kernels: boolean) => `
    import { initBackend } from "./src/models/backend.ts";
    import * as tf from "@tensorflow/tfjs";
    const stock = tf.getKernel("Conv2D", "wasm").kernelFunc;
    await initBackend({ kernels: ${kernels} });
    console.log("SAME " + (tf.getKernel("Conv2D", "wasm").kernelFunc === stock) + " GRAD " + Boolean(tf.getKernel("Conv2DBackpropFilter", "wasm")));`;
  const run = (kernels: boolean) => spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script(kernels)], { encoding: "utf8" }).stdout;
  assert.match(run(false), /SAME true GRAD false/);
  assert.match(run(true), /SAME false GRAD true/);
});

test.run();
