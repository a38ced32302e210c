// The models some defenses need beside the victim, trained once per victim and cached like it:
// Adaptive Misinformation's out-of-distribution scorer (outlier exposure on synthetic outliers, never the
// thief's Fashion-MNIST pool) and its misinformation model, and GRAD²'s surrogate distilled from the
// victim's answers on the victim's own training images (the defender has those; not the thief's queries).
import type * as tf from "@tensorflow/tfjs";
import { describeDefense } from "../defenses/registry.js";
import type { TrainedModelRole } from "../defenses/definition.js";
import { trainMisinformation, trainOutlierExposed } from "../models/misinformation.js";
import { generateOutliers } from "../models/outliers.js";
import { roleSeed } from "../models/random.js";
import { distillSurrogate } from "../models/surrogate.js";
import type { ProbabilityModel } from "../models/types.js";
import type { ModelSpec } from "../models/zoo.js";
import { predictAll } from "./black-box.js";
import type { EvalConfig } from "./config.js";
import type { EvalData } from "./data.js";
import { hashString, stableStringify } from "./hash.js";

/** Where the models are cached and logged: the evaluation environment's victim store and log (setup.ts). */
export interface DefenseModelsEnv {
  readonly victims: {
    load(key: string): Promise<tf.LayersModel | null>;
    save(key: string, model: tf.LayersModel): Promise<void>;
    where(key: string): string;
  };
  log(message: string): void;
}

export interface DefenseModels {
  /** Adaptive Misinformation: the outlier-exposed scorer and f^ (logits out). */
  readonly scorer?: tf.LayersModel;
  readonly misinformation?: tf.LayersModel;
  /** GRAD²: the surrogate (logits out). */
  readonly surrogate?: tf.LayersModel;
}

/** The trained models the settings' defenses take (a chain's stages included). */
function rolesOf(config: EvalConfig): Set<TrainedModelRole> {
  return new Set(config.settings.flatMap((s) => describeDefense(s.defense).trainedModels));
}

export async function prepareDefenseModels(
  config: EvalConfig,
  data: EvalData,
  env: DefenseModelsEnv,
  victim: { key: string; model: ProbabilityModel; spec: ModelSpec },
  options: { train: boolean },
): Promise<DefenseModels> {
  const roles = rolesOf(config);
  const v = config.victim;
  const training = { arch: v.arch, epochs: v.epochs, batchSize: v.batchSize, learningRate: v.learningRate, momentum: v.momentum };
  const cached = async (role: string, recipe: unknown, train: () => Promise<tf.LayersModel>): Promise<tf.LayersModel> => {
    const key = `${victim.key}-${role}-${hashString(stableStringify(recipe))}`;
    const found = await env.victims.load(key);
    if (found) return found;
    if (!options.train) throw new Error(`${role} model ${key} is not trained yet (expected at ${env.victims.where(key)})`);
    const started = performance.now();
    const model = await train();
    await env.victims.save(key, model);
    env.log(`  ${role}: trained in ${((performance.now() - started) / 1000).toFixed(0)} s; cached at ${env.victims.where(key)}`);
    return model;
  };
  const models: { scorer?: tf.LayersModel; misinformation?: tf.LayersModel; surrogate?: tf.LayersModel } = {};
  if (roles.has("misinformation")) {
    const outlierSeed = roleSeed(config.seed, "outliers");
    const count = data.victimTrain.count;
    const scorerSeed = roleSeed(config.seed, "outlier-exposed");
    models.scorer = await cached("outlier-exposed", { ...training, seed: scorerSeed, outliers: { count, seed: outlierSeed }, lambda: 1 }, async () => {
      env.log(`training Adaptive Misinformation's scorer (${v.arch}, ${count} images + ${count} synthetic outliers, outlier exposure, ${v.epochs} epochs)`);
      const outliers = generateOutliers({ count, seed: outlierSeed, source: data.victimTrain });
      return (await trainOutlierExposed({ train: data.victimTrain, outliers, test: data.test }, { ...training, seed: scorerSeed })).model;
    });
    const misSeed = roleSeed(config.seed, "misinformation");
    models.misinformation = await cached("misinformation", { ...training, seed: misSeed }, async () => {
      env.log(`training Adaptive Misinformation's misinformation model (${v.arch}, loss -log(1 - p_y), ${v.epochs} epochs)`);
      return (await trainMisinformation({ train: data.victimTrain, test: data.test }, { ...training, seed: misSeed })).model;
    });
  }
  if (roles.has("surrogate")) {
    const seed = roleSeed(config.seed, "surrogate");
    models.surrogate = await cached("surrogate", { arch: victim.spec.arch, seed, epochs: 10, images: data.victimTrain.count }, async () => {
      env.log(`distilling GRAD²'s surrogate (${victim.spec.arch}, the victim's answers on its ${data.victimTrain.count} training images, 10 epochs)`);
      const probs = await predictAll(victim.model, data.victimTrain.images, data.victimTrain.count, data.inputShape);
      return (await distillSurrogate({ spec: { ...victim.spec, seed }, images: data.victimTrain.images, probs, epochs: 10, seed })).model;
    });
  }
  return models;
}
