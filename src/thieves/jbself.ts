// JB-self (Orekondy et al. 2020): JBDA with the step taken towards the black box's label,
// x' = clip(x - lambda_r * sign(grad_x CE(F_A(x), argmax y~(x))), 0, 1). The reference queries x - delta
// but stores x + delta with the answer; here the point stored is the point queried.
import * as v from "valibot";
import { JacobianThief, jacobianParamsEntries } from "./jacobian.js";
import { parseParams } from "./parameters.js";
import { jacobianAugment } from "./jbda.js";
import type { ThiefDeps } from "./thief.js";

export const jbselfParamsSchema = v.strictObject(jacobianParamsEntries);

export function createJbself(params: Record<string, unknown>, deps: ThiefDeps): JacobianThief {
  const parsed = parseParams("jbself", jbselfParamsSchema, params);
  return new JacobianThief("jbself", parsed, deps, jacobianAugment(parsed, -1));
}
