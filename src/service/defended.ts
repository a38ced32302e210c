// The Predictor over a DefendedModel: what a worker thread (or an edge runtime, in process) serves.
// It reads the victim's y only to measure ||ỹ - y||_1 for metrics; y itself is dropped here.
import { perturbationDistances } from "../defenses/stats.js";
import type { DefendedModel } from "../defenses/defended-model.js";
import type { InputBatch } from "../models/types.js";
import type { Prediction, Predictor, ServedModelInfo } from "./predictor.js";

export function defendedPredictor(
  defended: DefendedModel,
  details: { model?: string; classes?: readonly string[]; dispose?: () => void } = {},
): Predictor {
  const { defense } = defended;
  const info: ServedModelInfo = {
    inputShape: [...defended.inputShape],
    numClasses: defended.numClasses,
    classes: details.classes,
    model: details.model,
    defense: { name: defense.name, params: defense.params, traits: { ...defense.traits } },
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
