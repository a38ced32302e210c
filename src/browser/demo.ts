// The demo page served by `prediction-poisoning serve --demo`: a digit goes through the victim model and
// MAD-argmax, both computed here in the browser from the library bundle (tfjs on WASM + the WASM core),
// since the server's POST /v1/predict never reveals the unperturbed vector. The server's own answer is
// fetched too and shown beside them.
import {
  createDefense,
  initBackend,
  loadCore,
  loadModel,
  Proxy,
  TfjsClassifier,
  backendInfo,
  type Architecture,
  type Core,
  type Defense,
  type InputBatch,
} from "./library.js";
import { argmax, renderBarChart } from "./bar-chart.js";
import { DigitPad, paintDigit } from "./digit-pad.js";
import { MNIST_SIDE } from "./mnist-input.js";

/** What GET config.json (src/service/demo-routes.ts) tells the page. */
interface DemoConfig {
  modelUrl: string;
  modelOutputs: "logits" | "probabilities";
  inputShape: number[];
  numClasses: number;
  labels?: string[];
  /** The defense in effect on the server's POST /v1/predict (params: what the server publishes; keyed: a secret key changes its answers). */
  defense: { name: string; keyed?: boolean; params: Record<string, unknown> };
  /** The page's own scratch proxy: the server's architecture with a public seed of the page's (not the server's). */
  proxy: { arch: Architecture; seed: number };
  /** Initial L1 budget of the page's MAD-argmax. */
  epsilon: number;
  predictUrl: string | null;
  digits: { label: number; pixels: number[] }[];
  plots: { title: string; url: string }[];
}

const $ = <T extends HTMLElement>(id: string): T => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`demo page: element #${id} is missing`);
  return node as T;
};

function setStatus(state: "loading" | "busy" | "ready" | "error", text: string): void {
  const status = $("status");
  status.dataset.state = state;
  status.textContent = text;
}

async function fetchJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

function l1(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s;
}

/** The input as nested [28][28][1] arrays, the JSON form POST /v1/predict takes. */
function nested(input: Float32Array, shape: number[]): unknown {
  const [h, w, c] = shape;
  return Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => Array.from({ length: c }, (_, ch) => input[(y * w + x) * c + ch])));
}

class Demo {
  private defense: Defense | null = null;
  private epsilon: number;
  private current: Float32Array | null = null;
  private running = false;
  private pending = false;
  private runs = 0;

  constructor(
    private readonly config: DemoConfig,
    private readonly core: Core,
    private readonly victim: TfjsClassifier,
    private readonly proxy: Proxy,
  ) {
    this.epsilon = config.epsilon;
    this.rebuildDefense();
  }

  private rebuildDefense(): void {
    this.defense?.dispose?.();
    // MAD-argmax with the paper's last-layer Jacobian: the proxy's softmax on the same input.
    this.defense = createDefense("mad-argmax", { epsilon: this.epsilon }, { core: this.core, proxy: this.proxy });
    $("budget").textContent = this.epsilon.toFixed(2);
    $("budget").dataset.value = String(this.epsilon);
  }

  setEpsilon(epsilon: number): void {
    this.epsilon = epsilon;
    this.rebuildDefense();
    if (this.current) void this.show(this.current);
  }

  /** Runs the victim and the defense on `input`; inputs arriving meanwhile collapse into one follow-up run. */
  async show(input: Float32Array): Promise<void> {
    this.current = input;
    paintDigit($<HTMLCanvasElement>("preview"), input);
    if (this.running) {
      this.pending = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.pending = false;
        await this.runOnce(this.current);
      } while (this.pending);
    } catch (err) {
      setStatus("error", `Failed: ${err instanceof Error ? err.message : String(err)}`);
      console.error(err);
    } finally {
      this.running = false;
    }
  }

  private async runOnce(input: Float32Array): Promise<void> {
    setStatus("busy", "Computing…");
    const batch: InputBatch = { data: input, batchSize: 1, inputShape: this.config.inputShape };
    const y = await this.victim.predict(batch);
    const started = performance.now();
    const { probs: yTilde } = await this.defense!.apply({ probs: y, batchSize: 1, numClasses: this.config.numClasses, inputs: batch });
    const ms = performance.now() - started;
    const labels = this.config.labels;
    renderBarChart($("victim-chart"), { probs: y, labels, caption: "Victim probabilities y" });
    renderBarChart($("poisoned-chart"), { probs: yTilde, reference: y, labels, caption: "Poisoned probabilities from MAD-argmax" });
    const name = (k: number) => labels?.[k] ?? String(k);
    $("top1").textContent = `${name(argmax(y))} / ${name(argmax(yTilde))}`;
    const dist = l1(y, yTilde);
    $("l1").textContent = dist.toFixed(3);
    $("l1").dataset.value = String(dist);
    $("timing").textContent = `${ms.toFixed(1)} ms`;
    await this.askServer(input, yTilde);
    this.runs++;
    document.body.dataset.runs = String(this.runs);
    setStatus("ready", `Ready. Pick another digit, draw one, or move ε.`);
  }

  /** Shows what the server's defended endpoint answers for the same input (it never sends y). */
  private async askServer(input: Float32Array, pagePoisoned: Float32Array): Promise<void> {
    if (!this.config.predictUrl) return;
    const box = $("server");
    const summary = $("server-summary");
    box.hidden = false;
    try {
      const res = await fetch(this.config.predictUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ inputs: [nested(input, this.config.inputShape)] }),
      });
      const isJson = (res.headers.get("content-type") ?? "").includes("json");
      const body = (isJson ? await res.json() : {}) as { probabilities?: number[][]; labels?: number[]; error?: { message?: string } };
      if (!res.ok || !body.probabilities?.[0]) throw new Error(`HTTP ${res.status}${body.error?.message ? `: ${body.error.message}` : ""}`);
      const served = body.probabilities[0];
      renderBarChart($("server-chart"), { probs: served, labels: this.config.labels, caption: "The server's answer" });
      const { name, params, keyed } = this.config.defense;
      const same = name === "mad-argmax" && params.epsilon === this.epsilon && !keyed;
      const gap = l1(served, pagePoisoned);
      summary.dataset.l1ToPage = String(gap);
      summary.textContent =
        `Server defense: ${name}${keyed ? ", keyed" : ""} (${Object.entries(params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ") || "parameters not published"}). ` +
        `Top-1 ${body.labels?.[0] ?? argmax(served)}. ` +
        (same
          ? `L1 between the server's answer and this page's: ${gap.toExponential(2)} (same defense, same budget; the page's proxy is its own, not the server's secret one, so the two may differ).`
          : keyed
            ? `The server mixes in a choice made with its secret key, which this page does not have, so the answers differ.`
            : `The page's budget differs from the server's, so the answers differ.`);
    } catch (err) {
      summary.textContent = `The server did not answer: ${err instanceof Error ? err.message : String(err)}`;
      $("server-chart").replaceChildren();
    }
  }
}

function renderDigits(config: DemoConfig, pick: (input: Float32Array, button: HTMLButtonElement) => void): void {
  const holder = $("digits");
  for (const digit of config.digits) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.digit = String(digit.label);
    button.setAttribute("aria-label", `Test digit ${digit.label}`);
    button.setAttribute("aria-pressed", "false");
    const canvas = document.createElement("canvas");
    const pixels = Float32Array.from(digit.pixels);
    paintDigit(canvas, pixels);
    button.appendChild(canvas);
    button.addEventListener("click", () => pick(pixels, button));
    holder.appendChild(button);
  }
}

function renderPlots(config: DemoConfig): void {
  if (!config.plots.length) return;
  const holder = $("plots");
  for (const plot of config.plots) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.src = plot.url;
    img.alt = plot.title;
    img.loading = "lazy";
    const caption = document.createElement("figcaption");
    caption.textContent = plot.title;
    figure.append(img, caption);
    holder.appendChild(figure);
  }
  $("plots-panel").hidden = false;
}

async function main(): Promise<void> {
  const config = await fetchJson<DemoConfig>("config.json");
  const [h, w, c] = config.inputShape;
  if (config.inputShape.length !== 3 || h !== MNIST_SIDE || w !== MNIST_SIDE || c !== 1) {
    throw new Error(`this page draws 28x28x1 digits, but the served model takes ${JSON.stringify(config.inputShape)}`);
  }
  // The .wasm files sit next to the bundles; after bundling the loaders cannot find them on their own.
  const assets = new URL("./", import.meta.url);
  setStatus("loading", "Starting TensorFlow.js on WebAssembly…");
  await initBackend({ wasmPaths: assets.href });
  const core = await loadCore(new URL("core.wasm", assets));
  setStatus("loading", "Loading the victim model…");
  const model = await loadModel(new URL(config.modelUrl, location.href).href);
  const victim = new TfjsClassifier(model, { outputs: config.modelOutputs, inputShape: config.inputShape });
  const proxy = Proxy.scratch({ arch: config.proxy.arch, numClasses: config.numClasses, inputShape: config.inputShape, seed: config.proxy.seed });
  const demo = new Demo(config, core, victim, proxy);

  const select = (button: HTMLButtonElement | null) => {
    for (const b of document.querySelectorAll<HTMLButtonElement>("#digits button")) b.setAttribute("aria-pressed", String(b === button));
  };
  renderDigits(config, (input, button) => {
    select(button);
    void demo.show(input);
  });
  const pad = new DigitPad($<HTMLCanvasElement>("pad"), (input) => {
    select(null);
    void demo.show(input);
  });
  $("clear").addEventListener("click", () => pad.clear());
  const slider = $<HTMLInputElement>("epsilon");
  slider.value = String(config.epsilon);
  $("epsilon-value").textContent = config.epsilon.toFixed(2);
  slider.addEventListener("input", () => {
    const eps = Number(slider.value);
    $("epsilon-value").textContent = eps.toFixed(2);
    demo.setEpsilon(eps);
  });
  renderPlots(config);
  const info = backendInfo();
  $("about").textContent =
    `tfjs ${info.backend} backend (SIMD ${info.simd ? "on" : "off"}), MAD core from core.wasm; ` +
    `the page's own proxy: scratch ${config.proxy.arch}; server defense: ${config.defense.name}.`;
  setStatus("ready", "Ready. Pick a test digit or draw one.");
  document.body.dataset.ready = "true";
}

main().catch((err: unknown) => {
  setStatus("error", `The demo could not start: ${err instanceof Error ? err.message : String(err)}`);
  console.error(err);
});
