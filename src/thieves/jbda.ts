// JBDA (Papernot et al. 2017): each round, every point x so far yields
// x' = clip(x + lambda_r * sign(grad_x CE(F_A(x), argmax y~(x))), 0, 1).
import * as v from "valibot";
import type { AugmentContext } from "./jacobian.js";
import { JacobianThief, answerLabels, chooseRows, jacobianParamsEntries, jacobianStep, periodicStep } from "./jacobian.js";
import { parseParams } from "./parameters.js";
import { gatherRows, type ThiefDeps } from "./thief.js";

export const jbdaParamsSchema = v.strictObject(jacobianParamsEntries);

/** Grows min(count, maxNew) points; `direction` +1 steps away from the label (JBDA), -1 towards it (JB-self). */
export function jacobianAugment(params: { lambda: number; tau: number }, direction: 1 | -1) {
  return async (c: AugmentContext) => {
    const rowSize = c.inputShape.reduce((a, b) => a * b, 1);
    const rows = chooseRows(c.count, c.maxNew, c.random);
    const labels = answerLabels(c.answers, c.numClasses, rows);
    const step = direction * periodicStep(params.lambda, params.tau, c.round);
    const images = jacobianStep(c.substitute, gatherRows(c.images, rowSize, rows), labels, c.inputShape, c.numClasses, step);
    return { images, count: rows.length };
  };
}

export function createJbda(params: Record<string, unknown>, deps: ThiefDeps): JacobianThief {
  const parsed = parseParams("jbda", jbdaParamsSchema, params);
  return new JacobianThief("jbda", parsed, deps, jacobianAugment(parsed, 1));
}

/** JBDA whose substitutes train on the top-1 labels only: the label-only JB thief, which label-preserving defenses cannot poison. */
export function createJblabels(params: Record<string, unknown>, deps: ThiefDeps): JacobianThief {
  const parsed = parseParams("jblabels", jbdaParamsSchema, params);
  return new JacobianThief("jblabels", parsed, deps, jacobianAugment(parsed, 1), "top1");
}
