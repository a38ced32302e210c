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
import { EvalConfigError, EvalDataError } from "./errors.js";

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

/**
 * The settings' defenses that need models trained on the victim's training data (GRAD²'s surrogate,
 * Adaptive Misinformation's scorer and misinformation model): a user's own victim comes without that data.
 */
export function defensesNeedingTrainingData(settings: EvalConfig["settings"]): string[] {
  return [...new Set(settings.filter((s) => describeDefense(s.defense).trainedModels.length > 0).map((s) => s.defense))];
}

export async function prepareDefenseModels(
  config: EvalConfig,
  data: EvalData,
  env: DefenseModelsEnv,
  victim: { key: string; model: ProbabilityModel; spec: ModelSpec },
  options: { train: boolean },
): Promise<DefenseModels> {
  const roles = rolesOf(config);
  if (roles.size === 0) return {};
  const train = data.victimTrain;
  if (!train) {
    throw new EvalConfigError(`${defensesNeedingTrainingData(config.settings).join(", ")}: these defenses need models trained on the victim's training data, which this run does not have (a victim trained elsewhere); leave them out`);
  }
  const v = config.victim;
  const training = { arch: v.arch, epochs: v.epochs, batchSize: v.batchSize, learningRate: v.learningRate, momentum: v.momentum };
  const cached = async (role: string, recipe: unknown, train: () => Promise<tf.LayersModel>): Promise<tf.LayersModel> => {
    const key = `${victim.key}-${role}-${hashString(stableStringify(recipe))}`;
    const found = await env.victims.load(key);
    if (found) return found;
    if (!options.train) throw new EvalDataError(`${role} model ${key} is not trained yet (expected at ${env.victims.where(key)})`, undefined, "not-found");
    const started = performance.now();
    const model = await train();
    await env.victims.save(key, model);
    env.log(`  ${role}: trained in ${((performance.now() - started) / 1000).toFixed(0)} s; cached at ${env.victims.where(key)}`);
    return model;
  };
  const models: { scorer?: tf.LayersModel; misinformation?: tf.LayersModel; surrogate?: tf.LayersModel } = {};
  if (roles.has("misinformation")) {
    const outlierSeed = roleSeed(config.seed, "outliers");
    const count = train.count;
    const scorerSeed = roleSeed(config.seed, "outlier-exposed");
    models.scorer = await cached("outlier-exposed", { ...training, seed: scorerSeed, outliers: { count, seed: outlierSeed }, lambda: 1 }, async () => {
      env.log(`training Adaptive Misinformation's scorer (${v.arch}, ${count} images + ${count} synthetic outliers, outlier exposure, ${v.epochs} epochs)`);
      const outliers = generateOutliers({ count, seed: outlierSeed, source: train });
      return (await trainOutlierExposed({ train, outliers, test: data.test }, { ...training, seed: scorerSeed })).model;
    });
    const misSeed = roleSeed(config.seed, "misinformation");
    models.misinformation = await cached("misinformation", { ...training, seed: misSeed }, async () => {
      env.log(`training Adaptive Misinformation's misinformation model (${v.arch}, loss -log(1 - p_y), ${v.epochs} epochs)`);
      return (await trainMisinformation({ train, test: data.test }, { ...training, seed: misSeed })).model;
    });
  }
  if (roles.has("surrogate")) {
    const seed = roleSeed(config.seed, "surrogate");
    models.surrogate = await cached("surrogate", { arch: victim.spec.arch, seed, epochs: 10, images: train.count }, async () => {
      env.log(`distilling GRAD²'s surrogate (${victim.spec.arch}, the victim's answers on its ${train.count} training images, 10 epochs)`);
      const probs = await predictAll(victim.model, train.images, train.count, data.inputShape);
      return (await distillSurrogate({ spec: { ...victim.spec, seed }, images: train.images, probs, epochs: 10, seed })).model;
    });
  }
  return models;
}
