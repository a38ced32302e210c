// The Predictor over a DefendedModel: what a worker thread (or an edge runtime, in process) serves.
// It reads the victim's y only to measure ||ỹ - y||_1 for metrics; y itself is dropped here.
import { perturbationDistances } from "../defenses/stats.js";
import type { DefendedModel } from "../defenses/defended-model.js";
import { describeDefense, publicParameters } from "../defenses/registry.js";
import type { InputBatch } from "../models/types.js";
import type { Prediction, Predictor, ServedModelInfo, UpstreamInfo } from "./predictor.js";

export interface PredictorDetails {
  readonly model?: string;
  readonly classes?: readonly string[];
  /** Publish the defense's public parameters (ε, β, ...) in `info`; never its secrets. Default: only its name. */
  readonly publishParams?: boolean;
  /** The upstream model server the victim calls (a sidecar), described without its credentials. */
  readonly upstream?: UpstreamInfo;
  readonly dispose?: () => void;
}

/** The parameters a client may see: the registry's public ones; none for a defense outside the registry (its secrets are unknown). */
function publishable(name: string, params: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  try {
    describeDefense(name);
  } catch {
    return undefined;
  }
  return publicParameters(name, params);
}

export function defendedPredictor(defended: DefendedModel, details: PredictorDetails = {}): Predictor {
  const { defense } = defended;
  const params = details.publishParams ? publishable(defense.name, defense.params) : undefined;
  const info: ServedModelInfo = {
    inputShape: [...defended.inputShape],
    numClasses: defended.numClasses,
    classes: details.classes,
    model: details.model,
    ...(details.upstream ? { upstream: details.upstream } : {}),
    defense: { name: defense.name, keyed: defense.traits.keyed === true, ...(params ? { params } : {}), traits: { ...defense.traits } },
  };
  return {
    info,
    async predict(batch: InputBatch, context?: { clientId?: string }): Promise<Prediction> {
      const answer = await defended.answer(batch, { clientId: context?.clientId });
      const K = answer.numClasses;
      const l1 = new Float32Array(answer.batchSize);
      for (let i = 0; i < answer.batchSize; i++) l1[i] = perturbationDistances(answer.victimProbs, answer.probs, i, K).l1;
      return { probs: answer.probs, labels: answer.labels, l1 };
    },
    async close() {
      defended.dispose();
      details.dispose?.();
    },
  };
}
