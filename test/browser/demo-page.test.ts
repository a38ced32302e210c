// End to end: `prediction-poisoning serve --demo` with a tiny LeNet, driven in headless Chromium.
// The page computes the victim's probabilities and MAD-argmax's answer in the browser (library bundle,
// tfjs on WASM, the WASM core); this test picks and draws digits and checks what the page shows.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { ensureBrowserBundle } from "../../src/service/node/demo-routes.js";
import { initBackend } from "../../src/models/backend.js";
import { buildModel } from "../../src/models/zoo.js";
import { loadMnist, subset } from "../../src/models/datasets.js";
import { softLabels, trainModel } from "../../src/models/training.js";
import { saveModelToDir } from "../../src/node/model-files.js";
import { chromiumPath, needs, toolAvailable } from "../tools.js";

const CHROMIUM = chromiumPath();
/** Every test here drives Chromium: without it they are skipped (test/tools.ts), and the setup is not done. */
const run = needs("chromium", test);
const EPSILON = 0.8;
const tmp = mkdtempSync(join(tmpdir(), "pp-browser-e2e-"));
const modelDir = join(tmp, "model");
const plotsDir = join(tmp, "plots");
const screenshots = join(tmp, "screenshots");
const profileDir = join(tmp, "chromium-profile"); // a fresh user-data-dir for every run

let server: ChildProcess | undefined;
let serverOutput = "";
let context: BrowserContext | undefined;
let page: Page;
let baseUrl = "";
const pageErrors: string[] = [];

/** A LeNet trained for one quick pass over 1,024 digits: confident enough for the charts to mean something. */
async function saveTinyModel(): Promise<void> {
  await initBackend();
  const model = buildModel({ arch: "lenet", numClasses: 10, inputShape: [28, 28, 1], seed: 11 });
  const { train } = loadMnist();
  const data = softLabels(subset(train, Array.from({ length: 1024 }, (_, i) => i)));
  await trainModel(model, data, { epochs: 1, batchSize: 64, optimizer: "adam", learningRate: 2e-3, seed: 1 });
  await saveModelToDir(model, modelDir);
  model.dispose();
}

/** Starts the CLI's server and resolves with its URL (the first "listening on" line). */
function startServer(): Promise<string> {
  const args = ["--import", "tsx", "src/cli/index.ts", "serve", "--model", modelDir, "--defense", "mad-argmax", "--epsilon", String(EPSILON), "--public-params",
    "--host", "127.0.0.1", "--port", "0", "--workers", "1", "--demo", "--plots", plotsDir];
  server = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not report its URL within 40 s:\n${serverOutput}`)), 40_000);
    const onData = (chunk: Buffer) => {
      serverOutput += chunk.toString();
      const m = serverOutput.match(/listening on (http:\/\/[\w.:[\]-]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    server!.stdout!.on("data", onData);
    server!.stderr!.on("data", onData);
    server!.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with code ${code}:\n${serverOutput}`));
    });
  });
}

interface Shown {
  victim: number[];
  poisoned: number[];
  l1: number;
  budget: number;
  top1Text: string;
  bars: { victim: number; poisoned: number };
}

async function shown(): Promise<Shown> {
  return page.evaluate(() => {
    const read = (id: string) => JSON.parse(document.getElementById(id)!.dataset.probs ?? "[]") as number[];
    return {
      victim: read("victim-chart"),
      poisoned: read("poisoned-chart"),
      l1: Number(document.getElementById("l1")!.dataset.value),
      budget: Number(document.getElementById("budget")!.dataset.value),
      top1Text: document.getElementById("top1")!.textContent ?? "",
      bars: {
        victim: document.querySelectorAll("#victim-chart svg g.bar rect.value").length,
        poisoned: document.querySelectorAll("#poisoned-chart svg g.bar rect.value").length,
      },
    };
  });
}

const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
const argmax = (v: number[]) => v.indexOf(Math.max(...v));
const l1 = (a: number[], b: number[]) => a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0);

/** Waits until the page has finished `runs` computations (or shows an error). */
async function waitForRun(runs: number): Promise<void> {
  await page.waitForFunction((n) => Number(document.body.dataset.runs ?? 0) >= n || document.getElementById("status")?.dataset.state === "error", runs, { timeout: 20_000 });
  const status = await page.locator("#status").getAttribute("data-state");
  if (status === "error") assert.unreachable(`the page shows an error: ${await page.locator("#status").textContent()}`);
}

/** The page's invariants for one answer: two charts of K bars, both on the simplex, same top-1, L1 within budget. */
function checkAnswer(s: Shown, epsilon: number): void {
  assert.is(s.victim.length, 10);
  assert.is(s.poisoned.length, 10);
  assert.equal(s.bars, { victim: 10, poisoned: 10 }, "one bar per class in each chart");
  for (const [name, v] of [["victim", s.victim], ["poisoned", s.poisoned]] as const) {
    assert.ok(Math.abs(sum(v) - 1) <= 1e-4, `${name} probabilities sum to ${sum(v)}`);
    assert.ok(v.every((p) => p >= 0 && Number.isFinite(p)), `${name} probabilities are finite and non-negative`);
  }
  assert.is(argmax(s.poisoned), argmax(s.victim), "MAD-argmax keeps the victim's top-1");
  assert.is(s.top1Text, `${argmax(s.victim)} / ${argmax(s.poisoned)}`);
  assert.ok(Math.abs(s.l1 - l1(s.victim, s.poisoned)) <= 1e-4, `the L1 shown (${s.l1}) is the L1 of the two vectors shown`);
  assert.ok(s.l1 <= epsilon + 1e-4, `L1 ${s.l1} <= epsilon ${epsilon}`);
  assert.is(s.budget, epsilon);
}

test.before(async () => {
  if (!toolAvailable("chromium")) return;
  mkdirSync(join(plotsDir, "mnist-quick"), { recursive: true });
  mkdirSync(screenshots, { recursive: true });
  writeFileSync(
    join(plotsDir, "mnist-quick", "thief-accuracy.svg"),
    `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="160"><rect width="320" height="160" fill="#fff"/>` +
      `<polyline points="20,140 100,90 180,70 300,60" fill="none" stroke="#d8573b" stroke-width="3"/></svg>`,
  );
  await ensureBrowserBundle({ quiet: true }); // before the server starts, so its start is not slowed by the build
  await saveTinyModel();
  baseUrl = await startServer();
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // tsx compiles this file with keepNames: functions passed to page.evaluate then call a __name helper
  // that only exists in Node; give the page a no-op one.
  await context.addInitScript({ content: "globalThis.__name = (f) => f;" });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !/favicon/.test(msg.location().url)) pageErrors.push(msg.text());
  });
});

test.after(async () => {
  await context?.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    if (server.exitCode === null) server.kill("SIGKILL");
  }
  if (process.env.KEEP_SCREENSHOTS) {
    rmSync(profileDir, { recursive: true, force: true });
    console.log(`screenshots in ${screenshots}`);
  } else rmSync(tmp, { recursive: true, force: true });
});

run("the root redirects to the demo page, which loads the model and the WASM core", async () => {
  const res = await page.goto(`${baseUrl}/`);
  assert.ok(res?.ok(), `GET / answered ${res?.status()}`);
  assert.ok(page.url().endsWith("/demo/"), `landed on ${page.url()}`);
  await page.waitForFunction(() => document.body.dataset.ready === "true" || document.getElementById("status")?.dataset.state === "error", null, { timeout: 30_000 });
  assert.is(await page.locator("#status").getAttribute("data-state"), "ready", (await page.locator("#status").textContent()) ?? "");
  assert.is(await page.locator("#digits button").count(), 10, "ten test digits to pick from");
  assert.match((await page.locator("#about").textContent()) ?? "", /wasm backend/);
});

run("picking a test digit shows the victim's and the poisoned probabilities", async () => {
  await page.locator('#digits button[data-digit="3"]').click();
  await waitForRun(1);
  const s = await shown();
  checkAnswer(s, EPSILON);
  assert.ok(s.l1 > 1e-3, `the defense moved the answer (L1 ${s.l1})`);
  assert.is(await page.locator('#digits button[data-digit="3"]').getAttribute("aria-pressed"), "true");
  await page.screenshot({ path: join(screenshots, "picked-3.png"), fullPage: true });
});

run("the server's answer is shown beside them, on the simplex with the victim's top-1", async () => {
  await page.waitForFunction(() => document.getElementById("server-chart")?.dataset.probs !== undefined, null, { timeout: 10_000 });
  const served = JSON.parse((await page.locator("#server-chart").getAttribute("data-probs")) ?? "[]") as number[];
  const s = await shown();
  assert.is(served.length, 10);
  assert.ok(Math.abs(sum(served) - 1) <= 1e-4, `server probabilities sum to ${sum(served)}`);
  assert.is(argmax(served), argmax(s.victim), "the server's MAD-argmax keeps the same top-1");
  assert.ok(l1(served, s.victim) <= EPSILON + 1e-4, "the server stays inside the same budget");
  // Same defense and budget, but the page's proxy is its own (the server's seed is not published).
  assert.match((await page.locator("#server-summary").textContent()) ?? "", /same defense, same budget; the page's proxy is its own/);
});

run("drawing a digit on the canvas runs it through the model and the defense", async () => {
  const box = (await page.locator("#pad").boundingBox())!;
  const at = (fx: number, fy: number) => [box.x + fx * box.width, box.y + fy * box.height] as const;
  // A "7": a bar across the top, then a diagonal down to the bottom.
  await page.mouse.move(...at(0.25, 0.22));
  await page.mouse.down();
  for (const [fx, fy] of [[0.45, 0.22], [0.72, 0.22], [0.62, 0.45], [0.52, 0.65], [0.45, 0.82]] as const) {
    await page.mouse.move(...at(fx, fy), { steps: 6 });
  }
  await page.mouse.up();
  await waitForRun(2);
  checkAnswer(await shown(), EPSILON);
  const ink = await page.evaluate(() => {
    const c = document.getElementById("preview") as HTMLCanvasElement;
    const d = c.getContext("2d")!.getImageData(0, 0, 28, 28).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 128) lit++;
    return lit;
  });
  assert.ok(ink >= 20 && ink <= 400, `the 28x28 preview holds the drawn stroke (${ink} lit pixels)`);
  assert.is(await page.locator('#digits button[aria-pressed="true"]').count(), 0, "drawing deselects the test digit");
});

run("moving the budget: epsilon 0 returns the victim's vector, a larger one stays within it", async () => {
  const setEpsilon = (value: number) =>
    page.evaluate((v) => {
      const slider = document.getElementById("epsilon") as HTMLInputElement;
      slider.value = String(v);
      slider.dispatchEvent(new Event("input", { bubbles: true }));
    }, value);
  await setEpsilon(0);
  await waitForRun(3);
  const zero = await shown();
  checkAnswer(zero, 0);
  assert.equal(zero.poisoned, zero.victim, "epsilon 0 leaves y unchanged");
  await setEpsilon(1.5);
  await waitForRun(4);
  checkAnswer(await shown(), 1.5);
});

run("the evaluation plots are shown when the output dir has them", async () => {
  assert.is(await page.locator("#plots-panel").isVisible(), true);
  const images = page.locator("#plots img");
  assert.is(await images.count(), 1);
  await images.first().scrollIntoViewIfNeeded();
  await page.waitForFunction(() => (document.querySelector("#plots img") as HTMLImageElement | null)?.complete === true);
  assert.ok((await images.first().evaluate((img) => (img as HTMLImageElement).naturalWidth)) > 0, "the SVG loaded");
});

run("the library bundle works on its own as an ES module (core from a URL, a defense on a vector)", async () => {
  const result = await page.evaluate(async () => {
    const lib = await import(new URL("prediction-poisoning.js", location.href).href);
    const core = await lib.loadCore(new URL("core.wasm", location.href));
    const embedded = await lib.loadCore(); // the bytes embedded in the bundle work too
    const simplex = Array.from(embedded.projectOntoSimplex(new Float64Array([0.5, 0.5, 0.5])) as Float64Array);
    const defense = lib.createDefense("mad-argmax", { epsilon: 0.5 }, { core });
    const y = new Float32Array([0.05, 0.6, 0.1, 0.25]);
    const p = new Float32Array([0.3, 0.2, 0.3, 0.2]);
    const out = await defense.apply({ probs: y, batchSize: 1, numClasses: 4, proxyProbs: p });
    return { probs: Array.from(out.probs as Float32Array), simplex };
  });
  const y = [0.05, 0.6, 0.1, 0.25];
  for (const v of result.simplex) assert.ok(Math.abs(v - 1 / 3) < 1e-12, `projection onto the simplex: ${result.simplex}`);
  const probs = result.probs;
  assert.is(probs.length, 4);
  assert.ok(Math.abs(sum(probs) - 1) <= 1e-5);
  assert.is(argmax(probs), 1);
  assert.ok(l1(probs, y) <= 0.5 + 1e-4 && l1(probs, y) > 0.1, `L1 ${l1(probs, y)}`);
});

run("no script errors on the page", async () => {
  await page.screenshot({ path: join(screenshots, "final.png"), fullPage: true });
  assert.equal(pageErrors, []);
});

test.run();
