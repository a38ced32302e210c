// The browser demo behind `prediction-poisoning serve --demo`: serves the page and the library bundle
// (dist/browser, built on demand), the served model's tfjs files (the page runs the victim itself,
// because POST /v1/predict never reveals the unperturbed vector), a few MNIST test digits, and the
// evaluation's SVG plots when they exist. Mounted through createApp's `extraRoutes`.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Hono } from "hono";
import type { Context } from "hono";
import type { Architecture } from "../../models/zoo.js";
import { loadMnist } from "../../models/datasets.js";
import type { ServedModelInfo } from "../predictor.js";

/** The package root: this file sits at src/service/node/ (tsx) or dist/service/node/ (compiled). */
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export interface DemoRoutesOptions {
  /** The served model in tfjs layers format: model.json and its weight files. */
  modelDir: string;
  /** What the server answers with (shape, classes, the defense in effect); read from model.json when omitted. */
  info?: ServedModelInfo;
  /** The defense on POST /v1/predict, when `info` is not given. */
  defense?: string;
  defenseParams?: Record<string, unknown>;
  /** The server's scratch proxy: the page takes its architecture only (the seed is the server's secret). Default lenet. */
  proxy?: { arch: Architecture; seed: number };
  /** Where the evaluation writes SVG plots (searched recursively). Default <package>/docs/results. */
  plotsDir?: string;
  /** Where the built page lives. Default <package>/dist/browser (built when missing or stale). */
  bundleDir?: string;
  /** The page's initial L1 budget; default the server's epsilon, else 1. */
  epsilon?: number;
  /** Where the returned app is mounted (`app.route(mountPath, ...)`). Default "/demo". */
  mountPath?: string;
  /** Where the start-up warning goes (default console.error). */
  log?: (line: string) => void;
}

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".bin": "application/octet-stream",
  ".txt": "text/plain; charset=utf-8",
};

/** Builds dist/browser with scripts/build-browser.mjs when it is missing or older than its sources. */
export async function ensureBrowserBundle(options: { quiet?: boolean } = {}): Promise<string> {
  const script = join(packageRoot, "scripts", "build-browser.mjs");
  const outDir = join(packageRoot, "dist", "browser");
  if (!existsSync(script)) {
    if (existsSync(join(outDir, "index.html"))) return outDir; // an installed package ships dist/browser prebuilt
    throw new Error(`the browser bundle ${outDir} is missing and scripts/build-browser.mjs is not there to build it`);
  }
  const builder = (await import(pathToFileURL(script).href)) as {
    browserBundleStale(): string | null;
    buildBrowser(o: { quiet?: boolean }): Promise<unknown>;
  };
  const why = builder.browserBundleStale();
  if (why) {
    if (!options.quiet) console.error(`building the browser bundle (${why})`);
    await builder.buildBrowser({ quiet: options.quiet ?? false });
  }
  return outDir;
}

interface LayerJson {
  class_name?: string;
  config?: { activation?: string; units?: number; batch_input_shape?: (number | null)[] };
}

/** What the page needs from model.json: per-input shape, class count, and whether it ends in a softmax. */
function readModelJson(modelJson: unknown, path: string): { inputShape?: number[]; numClasses?: number; outputs: "logits" | "probabilities" } {
  type ModelConfig = { config?: { layers?: LayerJson[] } };
  // tfjs writes the model config at modelTopology itself; the Python converter nests it in model_config.
  const topology = (modelJson as { modelTopology?: ModelConfig & { model_config?: ModelConfig } }).modelTopology;
  const layers = topology?.model_config?.config?.layers ?? topology?.config?.layers;
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new Error(`demo: ${path} has no layers in modelTopology: the page needs a tfjs layers model`);
  }
  const batchShape = layers.find((l) => Array.isArray(l.config?.batch_input_shape))?.config?.batch_input_shape;
  const withUnits = [...layers].reverse().find((l) => typeof l.config?.units === "number");
  return {
    inputShape: batchShape?.slice(1).every((d) => typeof d === "number") ? (batchShape.slice(1) as number[]) : undefined,
    numClasses: withUnits?.config?.units,
    outputs: layers.at(-1)?.config?.activation === "softmax" ? "probabilities" : "logits",
  };
}

/** The demo page's own proxy seed: public, and never the server's (whose seed is a secret like its key). */
export const PAGE_PROXY_SEED = 0x9a6e5eed;

/** The first test digit of each class, from the same seeded split the demo model is evaluated on. */
function testDigits(numClasses: number): { label: number; pixels: number[] }[] {
  const { test } = loadMnist();
  const side = 28 * 28;
  const digits: { label: number; pixels: number[] }[] = [];
  for (let label = 0; label < Math.min(10, numClasses); label++) {
    const index = test.labels.indexOf(label);
    if (index < 0) continue;
    const pixels = Array.from(test.images.subarray(index * side, (index + 1) * side), (v) => Math.round(v * 1000) / 1000);
    digits.push({ label, pixels });
  }
  return digits;
}

/** SVG files under `dir` (recursively), as paths relative to it with "/" separators. */
function listPlots(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".svg") && statSync(join(dir, f)).isFile())
    .map((f) => f.split(sep).join("/"))
    .sort();
}

function plotTitle(path: string): string {
  const parts = path.replace(/\.svg$/, "").split("/");
  const name = parts.pop()!.replace(/[-_]+/g, " ");
  return parts.length ? `${name} (${parts.join("/")})` : name;
}

/** Reads `name` inside `dir`, refusing anything that resolves outside it (no "..", no absolute paths). */
function fileInside(dir: string, name: string): Buffer | null {
  const root = resolve(dir);
  const full = resolve(root, name);
  if (relative(root, full).startsWith("..") || full === root) return null;
  if (!existsSync(full) || !statSync(full).isFile()) return null;
  return readFileSync(full);
}

function send(c: Context, body: Buffer | null, name: string): Response {
  if (!body) return c.json({ error: { kind: "not_found", message: `no such demo file: ${name}` } }, 404);
  const type = contentTypes[extname(name).toLowerCase()] ?? "application/octet-stream";
  return c.body(new Uint8Array(body), 200, { "content-type": type, "cache-control": "no-cache" });
}

/**
 * Prepares the demo (builds the bundle if needed, reads the model's metadata and the test digits) and
 * returns a Hono app to mount with `app.route("/demo", ...)`: the page at "<mount>/", its bundle files,
 * config.json, model/<file> and plots/<path>.svg.
 */
export async function demoRoutes(options: DemoRoutesOptions): Promise<Hono> {
  const modelDir = resolve(options.modelDir);
  const modelJsonPath = join(modelDir, "model.json");
  if (!existsSync(modelJsonPath)) {
    throw new Error(`demo: ${modelJsonPath} is missing: the page needs the served model in tfjs layers format (model.json + weights)`);
  }
  let modelJson: unknown;
  try {
    modelJson = JSON.parse(readFileSync(modelJsonPath, "utf8"));
  } catch (err) {
    throw new Error(`demo: ${modelJsonPath} is not valid JSON (${err instanceof Error ? err.message : err})`);
  }
  const meta = readModelJson(modelJson, modelJsonPath);
  const shape = options.info ? [...options.info.inputShape] : meta.inputShape;
  const numClasses = options.info?.numClasses ?? meta.numClasses;
  if (!shape || shape.length !== 3 || shape[0] !== 28 || shape[1] !== 28 || shape[2] !== 1) {
    throw new Error(`demo: the page draws 28x28x1 digits, but the served model takes ${shape ? `[${shape.join(", ")}]` : "an unknown input shape"}`);
  }
  if (!numClasses || !Number.isInteger(numClasses) || numClasses < 2) {
    throw new Error(`demo: cannot tell the number of classes of ${modelJsonPath} (pass info.numClasses)`);
  }
  const defense = options.info?.defense ?? { name: options.defense ?? "none", params: options.defenseParams ?? {} };
  const bundleDir = options.bundleDir ?? (await ensureBrowserBundle());
  if (!existsSync(join(bundleDir, "index.html"))) throw new Error(`demo: ${bundleDir} has no index.html (run npm run build:browser)`);
  const bundleFiles = new Set(readdirSync(bundleDir));
  const plotsDir = resolve(options.plotsDir ?? join(packageRoot, "docs", "results"));
  // Only what /v1/model publishes: the server's parameters when the operator made them public, never a key.
  const serverParams = defense.params ?? {};
  const serverEpsilon = serverParams.epsilon;
  const epsilon = options.epsilon ?? (typeof serverEpsilon === "number" ? serverEpsilon : 1);
  const digits = testDigits(numClasses);
  const mountPath = (options.mountPath ?? "/demo").replace(/\/+$/, "");
  // The page runs the victim itself, so its weights are public: fine for a demo, fatal for a protected API.
  (options.log ?? console.error)(
    `warning: the demo serves the model's weights at ${mountPath}/model/ (the page computes the unperturbed answer itself); ` +
      `anyone can copy the model. Use --demo for demonstrations only, never on the API you protect.`,
  );

  const config = () => ({
    modelUrl: "model/model.json",
    modelOutputs: meta.outputs,
    inputShape: shape,
    numClasses,
    labels: options.info?.classes ? [...options.info.classes] : undefined,
    defense: { name: defense.name, keyed: defense.keyed === true, params: serverParams },
    // The page's own scratch proxy: the server's architecture, never the server's seed (a secret of the deployment).
    proxy: { arch: options.proxy?.arch ?? "lenet", seed: PAGE_PROXY_SEED },
    epsilon,
    predictUrl: "/v1/predict",
    digits,
    // Listed per request: an evaluation may write plots while the server runs.
    plots: listPlots(plotsDir).map((p) => ({ title: plotTitle(p), url: `plots/${p.split("/").map(encodeURIComponent).join("/")}` })),
  });

  const demo = new Hono();
  demo.get("/config.json", (c) => c.json(config(), 200, { "cache-control": "no-cache" }));
  demo.get("/model/:file", (c) => {
    const file = c.req.param("file");
    return send(c, file === "model.json" || /^[\w.-]+\.bin$/.test(file) ? fileInside(modelDir, file) : null, file);
  });
  demo.get("/plots/*", (c) => {
    const raw = c.req.path.slice(c.req.path.indexOf("/plots/") + "/plots/".length);
    let path: string;
    try {
      path = decodeURIComponent(raw);
    } catch {
      // A malformed percent-escape ("%E0%A4%A") is the client's mistake, not the server's.
      return c.json({ error: { kind: "validation", message: "path: malformed percent-escape", field: "path" } }, 400);
    }
    return send(c, path.endsWith(".svg") ? fileInside(plotsDir, path) : null, path);
  });
  // The page and its bundle files. The page must be at a path ending in "/" (its URLs are relative).
  demo.get("/*", (c) => {
    const path = c.req.path;
    if (path === mountPath) return c.redirect(`${mountPath}/`, 302);
    if (path === `${mountPath}/`) return send(c, fileInside(bundleDir, "index.html"), "index.html");
    const name = path.startsWith(`${mountPath}/`) ? path.slice(mountPath.length + 1) : path;
    return send(c, bundleFiles.has(name) ? fileInside(bundleDir, name) : null, name);
  });
  return demo;
}
