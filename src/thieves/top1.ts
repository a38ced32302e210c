// The top-1 thief: Knockoff trained on one-hot argmax labels. It is the attack a label-preserving
// defense (MAD-argmax, reverse sigmoid) cannot touch, so every evaluation includes it.
import { KnockoffThief } from "./knockoff.js";
import { ThiefConfigError } from "./parameters.js";
import type { ThiefDeps } from "./thief.js";

export function createTop1(params: Record<string, unknown>, deps: ThiefDeps): KnockoffThief {
  if (params.labels !== undefined && params.labels !== "top1") {
    throw new ThiefConfigError(`thief "top1": parameter "labels" is fixed to "top1"`);
  }
  return new KnockoffThief("top1", { ...params, labels: "top1" }, deps);
}
