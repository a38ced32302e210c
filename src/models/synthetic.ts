// A synthetic labelled image set for tests and demos of user data (train --data, evaluate --victim):
// colour images whose class is a coloured blob's colour and position, with jitter and noise, so a small
// CNN learns it in an epoch or two at any number of classes up to 100. Seeded; pure.
import type { LabeledImages } from "./labeled-images.js";
import { seeded } from "./random.js";
import { ModelConfigError } from "./errors.js";

export interface SyntheticImagesOptions {
  /** Images per class. */
  readonly perClass: number;
  /** 2..100; default 100. */
  readonly numClasses?: number;
  /** Side of the square images; default 32 (at least 16). */
  readonly size?: number;
  /** 3 (RGB, default) or 1 (the blob's brightness instead of its colour). */
  readonly channels?: 1 | 3;
  readonly seed: number;
}

// Ten well-separated colours (and, for one channel, ten brightness levels).
const COLOURS: readonly (readonly [number, number, number])[] = [
  [1, 0.1, 0.1], [0.1, 1, 0.1], [0.1, 0.2, 1], [1, 1, 0.1], [1, 0.1, 1], [0.1, 1, 1], [1, 0.55, 0.1], [0.55, 0.1, 1], [1, 1, 1], [0.45, 0.7, 0.35],
];

/** Ten blob centres on a 4 x 3 grid (fractions of the side). */
const CENTRES: readonly (readonly [number, number])[] = [
  [0.2, 0.22], [0.4, 0.22], [0.6, 0.22], [0.8, 0.22], [0.2, 0.5], [0.8, 0.5], [0.2, 0.78], [0.4, 0.78], [0.6, 0.78], [0.8, 0.78],
];

/**
 * `perClass` images of each class, class-major order (class 0's images first). Class c has colour c % 10
 * and position floor(c / 10); class names are "class-00", "class-01", ... (sorted order is label order).
 */
export function syntheticImages(options: SyntheticImagesOptions): LabeledImages {
  const K = options.numClasses ?? 100;
  const side = options.size ?? 32;
  const channels = options.channels ?? 3;
  if (!Number.isInteger(K) || K < 2 || K > 100) throw new ModelConfigError(`syntheticImages: numClasses must be an integer in [2, 100], got ${K}`);
  if (!Number.isInteger(side) || side < 16) throw new ModelConfigError(`syntheticImages: size must be an integer >= 16, got ${side}`);
  if (!Number.isInteger(options.perClass) || options.perClass < 1) throw new ModelConfigError(`syntheticImages: perClass must be a positive integer, got ${options.perClass}`);
  const random = seeded(options.seed, "splitmix32"); // splitmix32: the images synthetic-data tests were pinned on
  const count = K * options.perClass;
  const pixels = side * side * channels;
  const images = new Float32Array(count * pixels);
  const labels = new Int32Array(count);
  const radius = side * 0.16;
  for (let c = 0; c < K; c++) {
    const colour = COLOURS[c % 10];
    const [fx, fy] = CENTRES[Math.floor(c / 10)];
    for (let n = 0; n < options.perClass; n++) {
      const i = c * options.perClass + n;
      labels[i] = c;
      const cx = fx * side + (random.uniform() - 0.5) * 2;
      const cy = fy * side + (random.uniform() - 0.5) * 2;
      const brightness = 0.8 + 0.2 * random.uniform();
      const base = i * pixels;
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius;
          for (let ch = 0; ch < channels; ch++) {
            const value = channels === 3 ? colour[ch] : (c % 10 + 1) / 10;
            const noise = 0.08 * random.uniform();
            images[base + (y * side + x) * channels + ch] = Math.min(1, (inside ? value * brightness : 0.1) + noise);
          }
        }
      }
    }
  }
  const classNames = Array.from({ length: K }, (_, c) => `class-${String(c).padStart(2, "0")}`);
  return { name: `synthetic-${K}`, images, labels, count, inputShape: [side, side, channels], numClasses: K, classNames };
}
