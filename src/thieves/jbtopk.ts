// JB-top-k (Orekondy et al. 2020): for each chosen x, the targets are the substitute's k most likely
// classes other than the black box's argmax; for each target, targeted PGD (8 signed steps of 0.01
// inside the L-infinity ball of radius lambda) raises that class's logit, and the result is queried.
import * as tf from "@tensorflow/tfjs";
import * as v from "valibot";
import type { AugmentContext } from "./jacobian.js";
import { JacobianThief, chooseRows, jacobianParamsEntries, targetedPgd } from "./jacobian.js";
import { parseParams, positiveInteger, positiveNumber } from "./parameters.js";
import { rowArgmax } from "../models/argmax.js";
import { gatherRows, type ThiefDeps } from "./thief.js";

export const jbtopkParamsSchema = v.strictObject({
  ...jacobianParamsEntries,
  k: positiveInteger(3),
  pgdSteps: positiveInteger(8),
  pgdStepSize: positiveNumber(0.01),
});
export type JbtopkParams = v.InferOutput<typeof jbtopkParamsSchema>;

/** The k classes the substitute ranks highest, skipping `exclude` (ties: lower class first). */
export function topClassesExcept(logits: ArrayLike<number>, row: number, numClasses: number, k: number, exclude: number): number[] {
  const classes = Array.from({ length: numClasses }, (_, c) => c).filter((c) => c !== exclude);
  classes.sort((a, b) => logits[row * numClasses + b] - logits[row * numClasses + a] || a - b);
  return classes.slice(0, k);
}

export function topkAugment(params: JbtopkParams) {
  return async (c: AugmentContext) => {
    // With K classes there are only K - 1 classes other than the label to target.
    const k = Math.min(params.k, c.numClasses - 1);
    const rowSize = c.inputShape.reduce((a, b) => a * b, 1);
    const rows = chooseRows(c.count, Math.ceil(c.maxNew / k), c.random);
    const chosen = gatherRows(c.images, rowSize, rows);
    const logits = tf.tidy(() => c.substitute.predict(tf.tensor(chosen, [rows.length, ...c.inputShape])) as tf.Tensor);
    const logitValues = (await logits.data()) as Float32Array;
    logits.dispose();
    // Each chosen row is repeated once per target; the last rows are dropped if the budget ends mid-row.
    const total = Math.min(rows.length * k, c.maxNew);
    const starts = new Float32Array(total * rowSize);
    const targets = new Int32Array(total);
    for (let i = 0, n = 0; i < rows.length && n < total; i++) {
      const label = rowArgmax(c.answers, rows[i], c.numClasses);
      for (const target of topClassesExcept(logitValues, i, c.numClasses, k, label)) {
        if (n >= total) break;
        starts.set(chosen.subarray(i * rowSize, (i + 1) * rowSize), n * rowSize);
        targets[n++] = target;
      }
    }
    const images = targetedPgd(c.substitute, starts, targets, c.inputShape, c.numClasses, {
      steps: params.pgdSteps,
      stepSize: params.pgdStepSize,
      radius: params.lambda,
    });
    return { images, count: total };
  };
}

export function createJbtopk(params: Record<string, unknown>, deps: ThiefDeps, name = "jbtopk"): JacobianThief {
  const parsed = parseParams(name, jbtopkParamsSchema, params);
  return new JacobianThief(name, parsed, deps, topkAugment(parsed));
}
