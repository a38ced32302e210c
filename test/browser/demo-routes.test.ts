// The demo's HTTP routes (src/service/node/demo-routes.ts), in process through Hono's app.request:
// what config.json tells the page, which files are served, and that nothing outside its folders is.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { demoRoutes, PAGE_PROXY_SEED } from "../../src/service/node/demo-routes.js";
import type { ServedModelInfo } from "../../src/service/predictor.js";

const tmp = mkdtempSync(join(tmpdir(), "pp-demo-routes-"));
const modelDir = join(tmp, "model");
const bundleDir = join(tmp, "bundle");
const plotsDir = join(tmp, "plots");
for (const d of [modelDir, bundleDir, join(plotsDir, "mnist-quick")]) mkdirSync(d, { recursive: true });

/** A tfjs layers model.json as tfjs writes it, cut down to what the routes read. */
function modelJson(inputShape: number[], units: number, activation = "linear") {
  return JSON.stringify({
    format: "layers-model",
    modelTopology: {
      class_name: "Sequential",
      model_config: {
        class_name: "Sequential",
        config: {
          name: "tiny",
          layers: [
            { class_name: "Flatten", config: { batch_input_shape: [null, ...inputShape], name: "flatten" } },
            { class_name: "Dense", config: { units, activation, name: "logits" } },
          ],
        },
      },
    },
    weightsManifest: [{ paths: ["weights.bin"], weights: [] }],
  });
}
writeFileSync(join(modelDir, "model.json"), modelJson([28, 28, 1], 10));
writeFileSync(join(modelDir, "weights.bin"), new Uint8Array([1, 2, 3, 4]));
writeFileSync(join(tmp, "secret.svg"), "<svg>secret</svg>");
writeFileSync(join(bundleDir, "index.html"), "<!doctype html><title>demo</title>");
writeFileSync(join(bundleDir, "core.wasm"), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
writeFileSync(join(bundleDir, "demo.bundle.js"), "export {};");
writeFileSync(join(plotsDir, "mnist-quick", "thief-vs-defender.svg"), "<svg xmlns='http://www.w3.org/2000/svg'></svg>");
writeFileSync(join(plotsDir, "notes.txt"), "not a plot");

const info: ServedModelInfo = {
  inputShape: [28, 28, 1],
  numClasses: 10,
  model: "tiny",
  defense: { name: "mad-argmax", params: { epsilon: 0.8, seed: 0 } },
};

async function rejects(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await run();
  } catch (err) {
    assert.match(err instanceof Error ? err.message : String(err), pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

const warnings: string[] = [];

async function mounted(options: Partial<Parameters<typeof demoRoutes>[0]> = {}) {
  const app = new Hono();
  app.route("/demo", await demoRoutes({ modelDir, info, plotsDir, bundleDir, log: (line) => warnings.push(line), ...options }));
  return app;
}

test("config.json tells the page the model, the defense, the test digits and the plots", async () => {
  const app = await mounted({ proxy: { arch: "lenet", seed: 3 } });
  const res = await app.request("/demo/config.json");
  assert.is(res.status, 200);
  const config = await res.json();
  assert.is(config.modelUrl, "model/model.json");
  assert.is(config.modelOutputs, "logits");
  assert.equal(config.inputShape, [28, 28, 1]);
  assert.is(config.numClasses, 10);
  assert.equal(config.defense, { name: "mad-argmax", keyed: false, params: { epsilon: 0.8, seed: 0 } });
  assert.is(config.epsilon, 0.8, "the page starts at the server's budget");
  // The page builds its own proxy: the server's architecture, never the server's seed.
  assert.equal(config.proxy, { arch: "lenet", seed: PAGE_PROXY_SEED });
  assert.not.match(JSON.stringify(config), /"seed":3\b/);
  assert.is(config.predictUrl, "/v1/predict");
  assert.equal(config.digits.map((d: { label: number }) => d.label), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const d of config.digits) {
    assert.is(d.pixels.length, 784);
    assert.ok(d.pixels.every((v: number) => v >= 0 && v <= 1));
    assert.ok(d.pixels.some((v: number) => v > 0.5), `digit ${d.label} has ink`);
  }
  assert.equal(config.plots, [{ title: "thief vs defender (mnist-quick)", url: "plots/mnist-quick/thief-vs-defender.svg" }]);
  assert.match(warnings.join("\n"), /serves the model's weights at \/demo\/model\/.*demonstrations only/);
});

test("the page, its bundle files and the model are served with the right types", async () => {
  const app = await mounted();
  const redirect = await app.request("/demo");
  assert.is(redirect.status, 302);
  assert.is(redirect.headers.get("location"), "/demo/");
  const page = await app.request("/demo/");
  assert.is(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  const wasm = await app.request("/demo/core.wasm");
  assert.is(wasm.headers.get("content-type"), "application/wasm", "instantiateStreaming needs application/wasm");
  assert.equal(Array.from(new Uint8Array(await wasm.arrayBuffer())).slice(0, 4), [0, 97, 115, 109]);
  assert.match((await app.request("/demo/demo.bundle.js")).headers.get("content-type") ?? "", /javascript/);
  const model = await app.request("/demo/model/model.json");
  assert.is(model.status, 200);
  assert.is((await model.json()).format, "layers-model");
  assert.equal(Array.from(new Uint8Array(await (await app.request("/demo/model/weights.bin")).arrayBuffer())), [1, 2, 3, 4]);
  const plot = await app.request("/demo/plots/mnist-quick/thief-vs-defender.svg");
  assert.is(plot.status, 200);
  assert.is(plot.headers.get("content-type"), "image/svg+xml");
});

test("nothing outside the bundle, model and plot folders is served", async () => {
  const app = await mounted();
  for (const path of [
    "/demo/model/..%2Fsecret.svg",
    "/demo/model/other.json",
    "/demo/plots/..%2Fsecret.svg",
    "/demo/plots/mnist-quick/..%2F..%2Fsecret.svg",
    "/demo/plots/notes.txt",
    "/demo/plots/missing.svg",
    "/demo/nope.js",
    "/demo/..%2Fsecret.svg",
  ]) {
    const res = await app.request(path);
    assert.is(res.status, 404, path);
    assert.not.match(await res.text(), /<svg>secret/);
  }
});

test("a malformed percent-escape under plots/ is the client's 400, not a 500", async () => {
  const app = await mounted();
  for (const path of ["/demo/plots/%E0%A4%A.svg", "/demo/plots/a%ZZ.svg", "/demo/plots/%E0%A4.svg"]) {
    const res = await app.request(path);
    assert.is(res.status, 400, path);
    assert.equal(await res.json(), { error: { kind: "validation", message: "path: malformed percent-escape", field: "path" } });
  }
});

test("without info, the shape and classes come from model.json; plots are optional", async () => {
  const app = await mounted({ info: undefined, defense: "reverse-sigmoid", defenseParams: { beta: 0.5 }, plotsDir: join(tmp, "none") });
  const config = await (await app.request("/demo/config.json")).json();
  assert.equal(config.inputShape, [28, 28, 1]);
  assert.is(config.numClasses, 10);
  assert.equal(config.defense, { name: "reverse-sigmoid", keyed: false, params: { beta: 0.5 } });
  assert.is(config.epsilon, 1, "no server epsilon: the page starts at 1");
  assert.equal(config.plots, []);
});

test("a keyed server that does not publish its parameters: the page gets the name and keyed, no parameters", async () => {
  const app = await mounted({ info: { ...info, defense: { name: "mad-argmax", keyed: true } } });
  const config = await (await app.request("/demo/config.json")).json();
  assert.equal(config.defense, { name: "mad-argmax", keyed: true, params: {} });
  assert.is(config.epsilon, 1, "no published epsilon: the page starts at 1");
});

test("model.json as tfjs itself writes it (topology at modelTopology.config) is read too", async () => {
  const native = join(tmp, "native");
  mkdirSync(native);
  writeFileSync(
    join(native, "model.json"),
    JSON.stringify({
      format: "layers-model",
      modelTopology: {
        class_name: "Sequential",
        config: {
          name: "lenet_k10",
          layers: [
            { class_name: "Rescaling", config: { batch_input_shape: [null, 28, 28, 1], scale: 3.2, offset: -0.42 } },
            { class_name: "Flatten", config: {} },
            { class_name: "Dense", config: { units: 7, activation: "softmax" } },
          ],
        },
      },
    }),
  );
  const app = new Hono();
  app.route("/demo", await demoRoutes({ modelDir: native, defense: "mad-argmax", defenseParams: { epsilon: 0.3 }, bundleDir, plotsDir, log: () => {} }));
  const config = await (await app.request("/demo/config.json")).json();
  assert.equal(config.inputShape, [28, 28, 1]);
  assert.is(config.numClasses, 7);
  assert.is(config.modelOutputs, "probabilities");
  assert.is(config.epsilon, 0.3);
  assert.equal(config.digits.map((d: { label: number }) => d.label), [0, 1, 2, 3, 4, 5, 6], "one test digit per class the model has");
});

test("a model the page cannot use is refused with a message naming what is wrong", async () => {
  await rejects(() => demoRoutes({ modelDir: join(tmp, "missing"), info, bundleDir }), /missing.*model\.json is missing/);
  const rgb = join(tmp, "rgb");
  mkdirSync(rgb);
  writeFileSync(join(rgb, "model.json"), modelJson([32, 32, 3], 10));
  await rejects(() => demoRoutes({ modelDir: rgb, bundleDir }), /28x28x1 digits, but the served model takes \[32, 32, 3\]/);
  const broken = join(tmp, "broken");
  mkdirSync(broken);
  writeFileSync(join(broken, "model.json"), "{ not json");
  await rejects(() => demoRoutes({ modelDir: broken, info, bundleDir }), /not valid JSON/);
  const probs = join(tmp, "softmax");
  mkdirSync(probs);
  writeFileSync(join(probs, "model.json"), modelJson([28, 28, 1], 10, "softmax"));
  const app = new Hono();
  app.route("/demo", await demoRoutes({ modelDir: probs, info, bundleDir, log: () => {} }));
  assert.is((await (await app.request("/demo/config.json")).json()).modelOutputs, "probabilities");
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
