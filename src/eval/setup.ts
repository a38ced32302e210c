// Everything a run (or a worker thread) needs, built from the configuration: the data, the victim
// (trained once and cached, or a user's own model: EvalConfig.user), the WASM core, and factories for
// the defenses and thieves.
import type * as tf from "@tensorflow/tfjs";
import type { Core } from "../core/index.js";
import { createDefense, describeDefense, listDefenses, withWatermark, type Defense, type WatermarkRecord } from "../defenses/index.js";
import { Proxy } from "../models/proxy.js";
import { trainVictim } from "../models/victim.js";
import { TfjsClassifier } from "../models/tfjs-model.js";
import type { ProbabilityModel } from "../models/types.js";
import { assertArchitectureFits, buildModel, defaultArchitecture, type Architecture, type ModelSpec } from "../models/zoo.js";
import { createThief } from "../thieves/registry.js";
import type { ImageSet, Thief } from "../thieves/thief.js";
import type { DefenseSetting, EvalConfig, UserRunConfig } from "./config.js";
import { prepareData, prepareUserData, type DataSources, type EvalData, type UserVictim } from "./data.js";
import { hashBytes, hashString, stableStringify } from "./hash.js";
import { runSeeds } from "./seeds.js";
import { defensesNeedingTrainingData, prepareDefenseModels, type DefenseModels } from "./defense-models.js";
import { EvalConfigError, EvalDataError } from "./errors.js";

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

/** What a user run (EvalConfig.user) used, each said in one line for logs and reports. */
export interface UserRunInfo {
  readonly victim: string;
  readonly test: string;
  readonly transfer: string;
  readonly seeds: string;
  readonly thiefArch: string;
  readonly proxy: string;
  readonly testLabels: "given" | "victim";
  readonly classNames?: readonly string[];
}

export interface EvalSetup {
  readonly config: EvalConfig;
  /** Set for a user's own victim and data. */
  readonly userRun?: UserRunInfo;
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
  if (config.user) return prepareUserSetup({ ...config, user: config.user }, env);
  const data = prepareData(config, env.sources);
  const victimTrain = data.victimTrain!;
  const seeds = runSeeds(config.seed);
  const spec: ModelSpec = { arch: config.victim.arch, numClasses: data.numClasses, inputShape: data.inputShape, seed: seeds.victim };
  const key = victimKey(config);
  let victimModel = await env.victims.load(key);
  if (!victimModel) {
    if (!options.trainVictim) throw new EvalDataError(`victim ${key} is not trained yet (expected at ${env.victims.where(key)})`, undefined, "not-found");
    env.log(`training the victim (${config.victim.arch}, ${victimTrain.count} images, ${config.victim.epochs} epochs); cached at ${env.victims.where(key)}`);
    const v = config.victim;
    const trained = await trainVictim(
      { train: victimTrain, test: data.test },
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
  const aux = await prepareDefenseModels(config, data, env, { key, model: victim, spec }, { train: options.trainVictim });
  return assemble({ config, data, spec, victimKey: key, victim, aux, core: await env.loadCore() });
}

/** The setup's factories over its parts; `proxyModel` replaces MAD's scratch proxy with a trained model. */
async function assemble(parts: {
  config: EvalConfig;
  data: EvalData;
  spec: ModelSpec;
  victimKey: string;
  victim: ProbabilityModel;
  aux: DefenseModels;
  core: Core;
  proxyModel?: tf.LayersModel;
  userRun?: UserRunInfo;
}): Promise<EvalSetup> {
  const { config, data, spec, aux, core } = parts;
  const seeds = runSeeds(config.seed);
  const { coreWasmBase64 } = await import("../core/generated/core-wasm.js");
  const thiefSpec = spec;
  return {
    config,
    userRun: parts.userRun,
    data,
    spec,
    victimKey: parts.victimKey,
    victim: parts.victim,
    coreHash: hashString(coreWasmBase64),
    createDefense(setting, hooks) {
      // A fresh scratch proxy per defense instance: a randomly initialised model of the victim's architecture.
      // GRAD²'s surrogate takes the proxy's place (chains with both are not in any preset).
      const surrogate = aux.surrogate && describeDefense(setting.defense).trainedModels.includes("surrogate");
      const proxy = surrogate
        ? new Proxy(aux.surrogate!, spec)
        : parts.proxyModel ? new Proxy(parts.proxyModel, spec) : Proxy.scratch({ ...spec, seed: seeds.proxy });
      const models = {
        misinformation: aux.misinformation && new Proxy(aux.misinformation, spec),
        scorer: aux.scorer && new Proxy(aux.scorer, spec),
      };
      const defense = createDefense(setting.defense, withDeploymentKey(setting.defense, setting.params, seeds.defenseKey), { core, proxy, ...models });
      if (!setting.watermark) return defense;
      return withWatermark(defense, { key: seeds.defenseKey, ...setting.watermark, onWatermark: hooks?.onWatermark });
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

/** The thieves' architecture for a user's victim, and why it was chosen. */
function chooseThiefArch(user: UserRunConfig, victim: UserVictim): { arch: Architecture; why: string } {
  const shape = victim.model.inputShape;
  if (user.thiefArch) {
    assertArchitectureFits(user.thiefArch, shape);
    return { arch: user.thiefArch, why: "--thief-arch" };
  }
  if (victim.arch) {
    try {
      assertArchitectureFits(victim.arch, shape);
      return { arch: victim.arch, why: "the victim's own architecture, from its victim.json" };
    } catch {
      // a victim.json that does not match the model: fall through to the shape's choice
    }
  }
  return { arch: defaultArchitecture(shape), why: `chosen from the input shape ${shape.join("x")}` };
}

/**
 * A user's own victim (a tfjs model trained elsewhere) with the user's test set, query pool and seeds.
 * Nothing is trained here: defenses that need models trained on the victim's data are refused.
 */
async function prepareUserSetup(config: EvalConfig & { readonly user: UserRunConfig }, env: EvalEnvironment): Promise<EvalSetup> {
  const sources = env.sources.user;
  if (!sources) throw new EvalConfigError("this environment cannot load a user's victim and data (no file system)");
  const refused = defensesNeedingTrainingData(config.settings);
  if (refused.length > 0) {
    throw new EvalConfigError(`${refused.join(", ")}: these defenses need models trained on the victim's training data, which an evaluation of your own victim does not have; leave them out`);
  }
  const { user } = config;
  const victim = await sources.victim(user.victim, user.outputs);
  const data = await prepareUserData(config, sources, victim, env.log);
  const seeds = runSeeds(config.seed);
  const thief = chooseThiefArch(user, victim);
  const spec: ModelSpec = { arch: thief.arch, numClasses: data.numClasses, inputShape: data.inputShape, seed: seeds.victim };
  let proxyModel: tf.LayersModel | undefined;
  let proxyText = `a scratch ${thief.arch} (randomly initialised, never trained)`;
  if (user.proxyModel) {
    proxyModel = await sources.layersModel(user.proxyModel);
    const proxy = new Proxy(proxyModel);
    if (proxy.inputShape.join("x") !== data.inputShape.join("x") || proxy.numClasses !== data.numClasses) {
      throw new EvalDataError(`proxy model ${user.proxyModel}: takes [${proxy.inputShape}] and has ${proxy.numClasses} classes; the victim takes [${data.inputShape}] with ${data.numClasses} classes`);
    }
    proxyText = `the trained model at ${user.proxyModel}`;
  }
  // The test set is part of the key: the runner names its cached test-set answers by the victim key.
  const victimKey = `${victim.name.replace(/[^A-Za-z0-9._-]/g, "_")}-user-${hashString(stableStringify({
    model: victim.hash, outputs: user.outputs, test: hashBytes(data.test.images), labels: hashBytes(data.test.labels),
  }))}`;
  const userRun: UserRunInfo = {
    victim: victim.description,
    ...data.described!,
    thiefArch: `${thief.arch} (${thief.why})`,
    proxy: proxyText,
    testLabels: data.testLabels ?? "given",
    classNames: victim.classNames,
  };
  env.log(`victim: ${userRun.victim}`);
  env.log(`test set: ${userRun.test}`);
  env.log(`transfer set (Knockoff's pool): ${userRun.transfer}`);
  env.log(`JB seeds: ${userRun.seeds}`);
  env.log(`thieves' architecture: ${userRun.thiefArch}; MAD's proxy: ${userRun.proxy}`);
  return assemble({ config, data, spec, victimKey, victim: victim.model, aux: {}, core: await env.loadCore(), proxyModel, userRun });
}
