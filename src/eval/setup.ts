// Everything a run (or a worker thread) needs, built from the configuration: the data, the victim
// (trained once and cached), the WASM core, and factories for the defenses and thieves.
import type * as tf from "@tensorflow/tfjs";
import type { Core } from "../core/index.js";
import { createDefense, describeDefense, listDefenses, withWatermark, type Defense, type WatermarkRecord } from "../defenses/index.js";
import { Proxy } from "../models/proxy.js";
import { trainVictim } from "../models/victim.js";
import { TfjsClassifier } from "../models/tfjs-model.js";
import type { ProbabilityModel } from "../models/types.js";
import { buildModel, type ModelSpec } from "../models/zoo.js";
import { createThief } from "../thieves/registry.js";
import type { ImageSet, Thief } from "../thieves/thief.js";
import type { DefenseSetting, EvalConfig } from "./config.js";
import { prepareData, type DataSources, type EvalData } from "./data.js";
import { hashString, stableStringify } from "./hash.js";
import { runSeeds } from "./seeds.js";
import { prepareDefenseModels } from "./defense-models.js";

/** Where trained victims are kept between runs (Node: a directory per key under .cache/). */
export interface VictimStore {
  load(key: string): Promise<tf.LayersModel | null>;
  save(key: string, model: tf.LayersModel): Promise<void>;
  /** Human-readable location, for logs. */
  where(key: string): string;
}

export interface EvalEnvironment {
  readonly sources: DataSources;
  readonly victims: VictimStore;
  loadCore(): Promise<Core>;
  log(message: string): void;
}

export interface EvalSetup {
  readonly config: EvalConfig;
  readonly data: EvalData;
  readonly spec: ModelSpec;
  /** Names the victim in cache files: equal keys mean the same trained victim. */
  readonly victimKey: string;
  readonly victim: ProbabilityModel;
  /** Hash of the WASM core's build: answers computed by another build are not reused. */
  readonly coreHash: string;
  /** The setting's defense; with `setting.watermark`, wrapped in the deployment's watermark (records to `onWatermark`). */
  createDefense(setting: DefenseSetting, hooks?: { onWatermark?: (records: WatermarkRecord[]) => void }): Defense;
  /** A thief with the run's parameters; `pool` replaces the query pool (the watermark evaluation's clean copies). */
  createThief(attack: string, overrides?: { pool?: ImageSet; params?: Readonly<Record<string, unknown>> }): Thief;
}

/** A defense that takes a secret key gets the run's own (the evaluated deployment's), unless the grid names one. */
export function withDeploymentKey(defense: string, params: Readonly<Record<string, unknown>>, key: string): Record<string, unknown> {
  const takesKey = listDefenses().find((d) => d.name === defense)?.parameters.some((p) => p.name === "key" && p.secret);
  return takesKey && params.key === undefined ? { ...params, key } : { ...params };
}

export function victimKey(config: EvalConfig): string {
  const { dataset, heldOutSize, victim } = config;
  const { split, victim: seed } = runSeeds(config.seed);
  // Held out from the test set, the victim trains on every training image whatever the size.
  const heldOut = config.heldOutFrom === "test" ? { heldOutFrom: "test" } : { heldOutSize };
  return `${dataset}-${victim.arch}-${hashString(stableStringify({ dataset, ...heldOut, split, victim: { ...victim, seed } }))}`;
}

export async function prepareSetup(config: EvalConfig, env: EvalEnvironment, options: { trainVictim: boolean }): Promise<EvalSetup> {
  const data = prepareData(config, env.sources);
  const seeds = runSeeds(config.seed);
  const spec: ModelSpec = { arch: config.victim.arch, numClasses: data.numClasses, inputShape: data.inputShape, seed: seeds.victim };
  const key = victimKey(config);
  let victimModel = await env.victims.load(key);
  if (!victimModel) {
    if (!options.trainVictim) throw new Error(`victim ${key} is not trained yet (expected at ${env.victims.where(key)})`);
    env.log(`training the victim (${config.victim.arch}, ${data.victimTrain.count} images, ${config.victim.epochs} epochs); cached at ${env.victims.where(key)}`);
    const v = config.victim;
    const trained = await trainVictim(
      { train: data.victimTrain, test: data.test },
      {
        arch: v.arch,
        dataset: data.dataset,
        epochs: v.epochs,
        seed: seeds.victim,
        batchSize: v.batchSize,
        learningRate: v.learningRate,
        momentum: v.momentum,
        progress: (e) => env.log(`  victim epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)}`),
      },
    );
    victimModel = trained.model;
    await env.victims.save(key, victimModel);
  }
  const victim = new TfjsClassifier(victimModel, { outputs: "logits" });
  const core = await env.loadCore();
  const { coreWasmBase64 } = await import("../core/generated/core-wasm.js");
  const thiefSpec = spec;
  const aux = await prepareDefenseModels(config, data, env, { key, model: victim, spec }, { train: options.trainVictim });
  return {
    config,
    data,
    spec,
    victimKey: key,
    victim,
    coreHash: hashString(coreWasmBase64),
    createDefense(setting, hooks) {
      // A fresh scratch proxy per defense instance: a randomly initialised model of the victim's architecture.
      // GRAD²'s surrogate takes the proxy's place (chains with both are not in any preset).
      const surrogate = aux.surrogate && describeDefense(setting.defense).trainedModels.includes("surrogate");
      const proxy = surrogate ? new Proxy(aux.surrogate!, spec) : Proxy.scratch({ ...spec, seed: seeds.proxy });
      const models = {
        misinformation: aux.misinformation && new Proxy(aux.misinformation, spec),
        scorer: aux.scorer && new Proxy(aux.scorer, spec),
      };
      const defense = createDefense(setting.defense, withDeploymentKey(setting.defense, setting.params, seeds.defenseKey), { core, proxy, ...models });
      if (!setting.watermark) return defense;
      const { rate, softRate, softMass } = setting.watermark;
      return withWatermark(defense, { key: seeds.defenseKey, rate, softRate, softMass, onWatermark: hooks?.onWatermark });
    },
    createThief(attack, overrides) {
      return createThief(attack, { ...(config.thiefParams[attack] ?? {}), ...(overrides?.params ?? {}) }, {
        buildSubstitute: (seed) => buildModel({ ...thiefSpec, seed }),
        pool: overrides?.pool ?? data.pool,
        seeds: data.heldOut,
        core,
      });
    },
  };
}

