// Synthetic, seeded outliers for outlier exposure (Hendrycks et al., ICLR 2019), the training signal of
// Adaptive Misinformation's out-of-distribution scorer (src/models/misinformation.ts, docs/DEFENSES.md).
//
// Why synthetic, and why not Fashion-MNIST: the evaluation queries the MNIST victim with Fashion-MNIST
// images (the thief's out-of-distribution transfer set). Training the scorer on that same distribution
// would measure memorisation of the attack set, not detection of out-of-distribution queries; the paper
// used KMNIST, a distribution the thief does not use. This project ships no third image set, so the
// outliers are generated, from a seed, in four kinds (an equal share each, image i of kind
// kinds[i mod kinds.length]):
//
//   blurred-noise   uniform noise, box-blurred two to three times (radius 1 to 3 px at 28 px); its darkest 50
//                   to 85 % set to black, the rest stretched to a peak of 0.6 to 1: bright blobs on a dark ground. Low
//                   frequencies and the ink-on-black look of the data, but no strokes: "an image with blobs
//                   of ink is not yet a digit".
//   shapes          3 to 5 anti-aliased strokes drawn on black: straight lines, quadratic curves, rectangle
//                   and ellipse outlines, 1 to 3 px wide (scaled with the image), grey levels 0.6 to 1.
//                   The local statistics of handwriting (thin bright strokes) without its global shape;
//                   several shapes per image, so a single ellipse (a "0") or a single bar (a "1") is rare.
//   pixel-shuffle   an in-distribution image (`source`) with its pixel positions permuted: exactly the
//                   data's intensity histogram and amount of ink, no spatial structure at all.
//   patch-shuffle   an in-distribution image cut into a 4 x 4 grid of patches (7 x 7 px at 28 px) that are
//                   permuted: real stroke fragments in the wrong places; the nearest outliers to the data,
//                   so the scorer learns that parts of a digit are not a digit.
//
// The shuffles need in-distribution images (`source`, e.g. the victim's training images). Image i
// draws from its own stream, seeded(roleSeed(seed, "outlier-image", i), "splitmix32"), so a set's first n images
// are the n images of a smaller set with the same seed and kinds. Any [height, width, channels] works;
// with several channels noise is drawn per channel and each stroke gets a random colour. Pixels are in
// [0, 1]. No Math.random, no node: imports (browser-safe).
import { roleSeed, seeded, type Random } from "./random.js";
import { ModelConfigError, ModelInputError } from "./errors.js";

export const OUTLIER_KINDS = ["blurred-noise", "shapes", "pixel-shuffle", "patch-shuffle"] as const;
export type OutlierKind = (typeof OUTLIER_KINDS)[number];

/** Images without labels, row-major, pixels in [0, 1] (the shape of LabeledImages without labels). */
export interface UnlabeledImages {
  name?: string;
  /** count x prod(inputShape). */
  images: Float32Array;
  count: number;
  inputShape: readonly number[];
}

export interface OutlierSet extends UnlabeledImages {
  name: string;
  /** The kind of each image (count entries). */
  kinds: OutlierKind[];
}

export interface OutlierOptions {
  count: number;
  /** Integer in [0, 2^32 - 1]. */
  seed: number;
  /** [height, width, channels]; default: the source's. */
  inputShape?: readonly number[];
  /** Which kinds, in equal shares; default all four (the shuffles need `source`). */
  kinds?: readonly OutlierKind[];
  /** In-distribution images for pixel-shuffle and patch-shuffle. */
  source?: UnlabeledImages;
}

const SHUFFLES: readonly OutlierKind[] = ["pixel-shuffle", "patch-shuffle"];

/** `count` seeded outliers of the chosen kinds (see the file header). */
export function generateOutliers(options: OutlierOptions): OutlierSet {
  const { count, seed, source } = options;
  const kinds = options.kinds ?? OUTLIER_KINDS;
  if (!Number.isInteger(count) || count < 0) throw new ModelConfigError(`outliers: count must be an integer >= 0, got ${count}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ModelConfigError(`outliers: seed must be an integer in [0, 2^32 - 1], got ${seed}`);
  if (kinds.length === 0) throw new ModelConfigError("outliers: kinds is empty");
  for (const kind of kinds) {
    if (!OUTLIER_KINDS.includes(kind)) throw new ModelConfigError(`outliers: unknown kind "${kind}"; expected some of ${OUTLIER_KINDS.join(", ")}`);
  }
  const shape = options.inputShape ?? source?.inputShape;
  if (!shape) throw new ModelConfigError("outliers: give inputShape (or source images to take it from)");
  if (shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ModelConfigError(`outliers: inputShape must be [height, width, channels] with positive integers, got [${shape}]`);
  }
  const size = shape[0] * shape[1] * shape[2];
  if (kinds.some((k) => SHUFFLES.includes(k))) {
    if (!source || source.count < 1) {
      throw new ModelConfigError("outliers: pixel-shuffle and patch-shuffle shuffle in-distribution images: pass source (e.g. the victim's training images) or choose other kinds");
    }
    if (source.inputShape.join() !== shape.join()) throw new ModelInputError(`outliers: source images are [${source.inputShape}], outliers asked for [${shape}]`);
    if (source.images.length !== source.count * size) throw new ModelInputError(`outliers: source has ${source.images.length} values, expected ${source.count} x ${size}`);
  }
  const images = new Float32Array(count * size);
  const kindOf: OutlierKind[] = new Array(count);
  const [h, w, c] = shape;
  for (let i = 0; i < count; i++) {
    const kind = kinds[i % kinds.length];
    kindOf[i] = kind;
    const random = seeded(roleSeed(seed, "outlier-image", i), "splitmix32"); // splitmix32: keeps cached outlier sets (and the models on them) identical
    const out = images.subarray(i * size, (i + 1) * size);
    if (kind === "blurred-noise") blurredNoise(out, h, w, c, random);
    else if (kind === "shapes") shapes(out, h, w, c, random);
    else {
      const j = Math.floor(random.uniform() * source!.count);
      const image = source!.images.subarray(j * size, (j + 1) * size);
      if (kind === "pixel-shuffle") pixelShuffle(image, out, h * w, c, random);
      else patchShuffle(image, out, h, w, c, random);
    }
    for (let p = 0; p < size; p++) out[p] = Math.min(1, Math.max(0, out[p]));
  }
  return { name: `synthetic-outliers(${[...new Set(kinds)].join("+")})`, images, count, inputShape: [...shape], kinds: kindOf };
}

const uniform = (random: Random, lo: number, hi: number) => lo + (hi - lo) * random.uniform();

/** Box blur of radius r of one h x w plane, along rows then columns, edges clamped (in place). */
function boxBlur(plane: Float64Array, h: number, w: number, r: number): void {
  const tmp = new Float64Array(plane.length);
  const span = 2 * r + 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let d = -r; d <= r; d++) s += plane[y * w + Math.min(w - 1, Math.max(0, x + d))];
      tmp[y * w + x] = s / span;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let d = -r; d <= r; d++) s += tmp[Math.min(h - 1, Math.max(0, y + d)) * w + x];
      plane[y * w + x] = s / span;
    }
  }
}

function blurredNoise(out: Float32Array, h: number, w: number, c: number, random: Random): void {
  const scale = Math.min(h, w) / 28;
  const radius = Math.max(1, Math.round((1 + Math.floor(random.uniform() * 3)) * scale));
  const passes = 2 + Math.floor(random.uniform() * 2);
  const dark = uniform(random, 0.5, 0.85); // the share of the pixels left black
  const peak = uniform(random, 0.6, 1);
  const plane = new Float64Array(h * w);
  for (let ch = 0; ch < c; ch++) {
    for (let p = 0; p < plane.length; p++) plane[p] = random.uniform();
    for (let pass = 0; pass < passes; pass++) boxBlur(plane, h, w, radius);
    const ranked = Float64Array.from(plane).sort();
    const cut = ranked[Math.min(ranked.length - 1, Math.floor(dark * ranked.length))];
    const range = ranked[ranked.length - 1] - cut || 1;
    for (let p = 0; p < plane.length; p++) out[p * c + ch] = peak * Math.max(0, (plane[p] - cut) / range);
  }
}

/** Max-combines an anti-aliased segment (width `width` px, colour per channel) into the canvas. */
function drawSegment(out: Float32Array, h: number, w: number, c: number, x0: number, y0: number, x1: number, y1: number, width: number, colour: number[]): void {
  const half = width / 2 + 0.5;
  const xmin = Math.max(0, Math.floor(Math.min(x0, x1) - half)), xmax = Math.min(w - 1, Math.ceil(Math.max(x0, x1) + half));
  const ymin = Math.max(0, Math.floor(Math.min(y0, y1) - half)), ymax = Math.min(h - 1, Math.ceil(Math.max(y0, y1) + half));
  const dx = x1 - x0, dy = y1 - y0;
  const len2 = dx * dx + dy * dy;
  for (let y = ymin; y <= ymax; y++) {
    for (let x = xmin; x <= xmax; x++) {
      // distance from the pixel centre to the segment
      const px = x + 0.5 - x0, py = y + 0.5 - y0;
      const t = len2 > 0 ? Math.min(1, Math.max(0, (px * dx + py * dy) / len2)) : 0;
      const ex = px - t * dx, ey = py - t * dy;
      const coverage = Math.min(1, Math.max(0, half - Math.sqrt(ex * ex + ey * ey)));
      if (coverage <= 0) continue;
      for (let ch = 0; ch < c; ch++) {
        const at = (y * w + x) * c + ch;
        out[at] = Math.max(out[at], coverage * colour[ch]);
      }
    }
  }
}

function drawPolyline(out: Float32Array, h: number, w: number, c: number, points: [number, number][], width: number, colour: number[]): void {
  for (let i = 1; i < points.length; i++) drawSegment(out, h, w, c, points[i - 1][0], points[i - 1][1], points[i][0], points[i][1], width, colour);
}

function shapes(out: Float32Array, h: number, w: number, c: number, random: Random): void {
  const scale = Math.min(h, w) / 28;
  const n = 3 + Math.floor(random.uniform() * 3);
  const px = () => uniform(random, 0.1 * w, 0.9 * w);
  const py = () => uniform(random, 0.1 * h, 0.9 * h);
  for (let s = 0; s < n; s++) {
    const width = uniform(random, 1, 3) * scale;
    const grey = uniform(random, 0.6, 1);
    const colour = Array.from({ length: c }, () => (c === 1 ? grey : uniform(random, 0.2, 1)));
    const shape = Math.floor(random.uniform() * 4);
    if (shape === 0) {
      drawSegment(out, h, w, c, px(), py(), px(), py(), width, colour);
    } else if (shape === 1) {
      // a quadratic Bézier curve through a random control point
      const [ax, ay, bx, by, cx, cy] = [px(), py(), px(), py(), px(), py()];
      const points: [number, number][] = [];
      for (let t = 0; t <= 12; t++) {
        const u = t / 12;
        points.push([(1 - u) ** 2 * ax + 2 * u * (1 - u) * bx + u * u * cx, (1 - u) ** 2 * ay + 2 * u * (1 - u) * by + u * u * cy]);
      }
      drawPolyline(out, h, w, c, points, width, colour);
    } else if (shape === 2) {
      const x0 = px(), y0 = py();
      const x1 = Math.min(w - 1, x0 + uniform(random, 0.2, 0.6) * w), y1 = Math.min(h - 1, y0 + uniform(random, 0.2, 0.6) * h);
      drawPolyline(out, h, w, c, [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], width, colour);
    } else {
      const cx = px(), cy = py();
      const rx = uniform(random, 0.1, 0.35) * w, ry = uniform(random, 0.1, 0.35) * h;
      const theta = uniform(random, 0, Math.PI);
      const points: [number, number][] = [];
      for (let t = 0; t <= 24; t++) {
        const a = (2 * Math.PI * t) / 24;
        const ex = rx * Math.cos(a), ey = ry * Math.sin(a);
        points.push([cx + ex * Math.cos(theta) - ey * Math.sin(theta), cy + ex * Math.sin(theta) + ey * Math.cos(theta)]);
      }
      drawPolyline(out, h, w, c, points, width, colour);
    }
  }
}

function pixelShuffle(image: Float32Array, out: Float32Array, pixels: number, c: number, random: Random): void {
  const order = random.permutation(pixels);
  for (let p = 0; p < pixels; p++) for (let ch = 0; ch < c; ch++) out[p * c + ch] = image[order[p] * c + ch];
}

function patchShuffle(image: Float32Array, out: Float32Array, h: number, w: number, c: number, random: Random): void {
  const grid = Math.min(4, h, w);
  const ph = Math.floor(h / grid), pw = Math.floor(w / grid);
  out.set(image); // rows and columns beyond the grid (h, w not divisible by 4) stay in place
  const order = random.permutation(grid * grid);
  for (let target = 0; target < grid * grid; target++) {
    const from = order[target];
    const ty = Math.floor(target / grid) * ph, tx = (target % grid) * pw;
    const fy = Math.floor(from / grid) * ph, fx = (from % grid) * pw;
    for (let y = 0; y < ph; y++) {
      const src = ((fy + y) * w + fx) * c;
      out.set(image.subarray(src, src + pw * c), ((ty + y) * w + tx) * c);
    }
  }
}
