// Runs inside each worker thread: loads the victim from its directory on this thread's own tfjs WASM
// backend (or, as a sidecar, calls the upstream model server), builds the defense (with the WASM core and a
// proxy when it uses one) and serves both as a Predictor.
import { loadCore } from "../../core/index.js";
import { DefendedModel } from "../../defenses/defended-model.js";
import { createDefense, describeDefense } from "../../defenses/registry.js";
import { initBackend } from "../../models/backend.js";
import { Proxy } from "../../models/proxy.js";
import { TfjsClassifier } from "../../models/tfjs-model.js";
import type { Architecture } from "../../models/zoo.js";
import { readKeyFile } from "../../node/key-file.js";
import { loadLayersModelFromDir, loadModelFromDir, modelExists } from "../../node/model-files.js";
import { withWatermark } from "../../defenses/watermark.js";
import { defendedPredictor } from "../defended.js";
import type { Predictor } from "../predictor.js";
import { checkUpstreamOptions, upstreamModelName, upstreamPredictor } from "../upstream.js";
import type { UpstreamOptions } from "../upstream.js";
import { openWatermarkLog } from "./watermark-log.js";
import type { WatermarkLogTarget, WatermarkSink } from "./watermark-log.js";

export type ProxySource = { arch: Architecture; seed: number } | { dir: string };

export interface DefendedPredictorOptions {
  /** A tfjs model directory (model.json + weight files) whose output is logits (or probabilities, see `outputs`).
   * Ignored with `upstream`. */
  readonly modelDir: string;
  /** The victim is this upstream model server (a sidecar): its inputs' shape and classes are given here, and
   * the proxy is a local model of that input shape. */
  readonly upstream?: UpstreamOptions;
  /** Shown by GET /v1/model. */
  readonly modelName?: string;
  readonly outputs?: "logits" | "probabilities";
  readonly classes?: readonly string[];
  readonly defense: string;
  readonly params?: Readonly<Record<string, unknown>>;
  /** The proxy of the thief's model for defenses with a `jacobian` parameter (MAD): a seeded scratch network
   * (the same in every worker and replica, so answers do not depend on which one serves) or a trained model. */
  readonly proxy?: ProxySource;
  /** Adaptive Misinformation's misinformation model and out-of-distribution scorer: tfjs model directories (logits out). */
  readonly misinformationModel?: string;
  readonly scorerModel?: string;
  /** The file holding the defense's secret key (keyed MAD), read by each worker: the key never travels in messages. */
  readonly keyFile?: string;
  /** Publish the defense's public parameters in GET /v1/model (default: only its name and whether it is keyed). */
  readonly publishParams?: boolean;
  /** DAWN watermarking around the defense: a keyed ~rate of the queries get a keyed wrong top-1 label, each
   * recorded in the log (a directory: one append-only file per worker; or a Redis list shared by replicas). */
  readonly watermark?: {
    readonly rate: number;
    readonly labelKeying?: "class" | "input";
    /** Soft marks (src/defenses/watermark.ts). */
    readonly softRate?: number;
    readonly softMass?: number;
    readonly softKeying?: "class" | "input";
    readonly softLogRate?: number;
    readonly keyFile: string;
    readonly log?: WatermarkLogTarget;
  };
}

export const defaultProxy: ProxySource = { arch: "lenet", seed: 0 };

/**
 * A model declared to output probabilities must put its answers on the simplex: try it on probe inputs
 * (blank, mid-grey, seeded noise) at start, so a logits model is refused once with the reason instead of
 * failing every request with a 500.
 */
async function checkProbabilityOutputs(victim: TfjsClassifier): Promise<void> {
  const n = victim.inputShape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(3 * n);
  let seed = 12345;
  for (let i = 0; i < n; i++) {
    data[n + i] = 0.5;
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    data[2 * n + i] = seed / 2 ** 32;
  }
  try {
    await victim.predict({ data, batchSize: 3, inputShape: victim.inputShape });
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^TfjsClassifier: /, "").replace(/; is it a logits model\?.*$/, "") : String(e);
    throw new Error(
      `--outputs probabilities, but the model's output on a probe input is not a probability distribution (${why}): ` +
        `is it a logits model? Leave out --outputs probabilities (the default, logits, applies a softmax)`,
    );
  }
}

/** A proxy that cannot take the upstream's input shape (lenet on 4 x 4 inputs) fails here, at start, not on every query. */
async function checkProxy(proxy: Proxy, inputShape: readonly number[], flag: string): Promise<void> {
  const n = inputShape.reduce((a, b) => a * b, 1);
  try {
    await proxy.probs({ data: new Float32Array(n), batchSize: 1, inputShape });
  } catch (e) {
    const hint = flag.startsWith("--proxy-arch") ? " (--proxy-arch mlp takes any shape)" : "";
    throw new Error(`${flag} cannot run on inputs of shape [${inputShape.join(", ")}]: ${e instanceof Error ? e.message : String(e)}${hint}`);
  }
}

export async function createPredictor(options: DefendedPredictorOptions): Promise<Predictor> {
  const upstream = options.upstream ? checkUpstreamOptions(options.upstream) : undefined;
  if (!upstream && !modelExists(options.modelDir)) throw new Error(`no model in ${options.modelDir} (expected model.json and its weight files)`);
  await initBackend();
  const victim = upstream ? undefined : new TfjsClassifier(await loadModelFromDir(options.modelDir), { outputs: options.outputs });
  if (victim?.outputs === "probabilities") await checkProbabilityOutputs(victim);
  const inputShape = victim?.inputShape ?? upstream!.inputShape;
  const numClasses = victim?.numClasses ?? upstream!.numClasses;
  const info = describeDefense(options.defense);
  const core = info.needsCore ? await loadCore() : undefined;
  let proxy: Proxy | undefined;
  // MAD's proxy of the thief (any stage with a Jacobian) or GRAD²'s surrogate: --proxy-model, else a scratch model.
  const stages = options.defense.split(">").map((s) => s.trim());
  if (info.trainedModels.includes("surrogate") || stages.some((s) => describeDefense(s).parameters.some((p) => p.name === "jacobian"))) {
    const source = options.proxy ?? defaultProxy;
    proxy =
      "dir" in source
        ? new Proxy(await loadLayersModelFromDir(source.dir))
        : Proxy.scratch({ arch: source.arch, seed: source.seed, numClasses, inputShape });
    if (upstream) await checkProxy(proxy, inputShape, "dir" in source ? `--proxy-model ${source.dir}` : `--proxy-arch ${source.arch}`);
  }
  const params = options.keyFile ? { ...options.params, key: readKeyFile(options.keyFile) } : options.params;
  const misinformation = options.misinformationModel ? new Proxy(await loadLayersModelFromDir(options.misinformationModel)) : undefined;
  const scorer = options.scorerModel ? new Proxy(await loadLayersModelFromDir(options.scorerModel)) : undefined;
  let defense = createDefense(options.defense, params, { core, proxy, misinformation, scorer });
  let sink: WatermarkSink | undefined;
  if (options.watermark) {
    const wm = options.watermark;
    sink = wm.log ? await openWatermarkLog(wm.log) : undefined;
    const { keyFile, log: _log, ...marks } = wm;
    defense = withWatermark(defense, { key: readKeyFile(keyFile), ...marks, onWatermark: sink ? (records) => sink!.append(records) : undefined });
  }
  const dispose = () => {
    victim?.dispose();
    misinformation?.dispose();
    scorer?.dispose();
    void sink?.close();
  };
  if (upstream) {
    return upstreamPredictor({
      upstream,
      defense,
      model: options.modelName ?? upstreamModelName(upstream),
      classes: options.classes,
      publishParams: options.publishParams,
      dispose,
    });
  }
  const defended = new DefendedModel(victim!, defense);
  return defendedPredictor(defended, {
    model: options.modelName ?? options.modelDir,
    classes: options.classes,
    publishParams: options.publishParams,
    dispose,
  });
}
