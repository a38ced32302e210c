// Turns a free-hand drawing into the 28x28 input an MNIST model expects, the way MNIST itself was made:
// the ink's bounding box is scaled (aspect kept) to fit a 20x20 box, then placed so that its centre of
// mass sits at the centre of the 28x28 frame. Pure (no DOM), so the Node tests exercise it directly.

export const MNIST_SIDE = 28;
const FIT_SIDE = 20;
/** Pixels at or below this intensity count as background when finding the ink. */
const INK_THRESHOLD = 0.05;

/**
 * `gray` is a width x height row-major image with ink in [0, 1] (1 = full ink). Returns 784 values in
 * [0, 1], all zero when there is no ink.
 */
export function toMnistInput(gray: Float32Array, width: number, height: number): Float32Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`toMnistInput: width and height must be positive integers, got ${width} x ${height}`);
  }
  if (gray.length !== width * height) {
    throw new RangeError(`toMnistInput: image has ${gray.length} values, expected width x height = ${width * height}`);
  }
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = gray[y * width + x];
      if (!(v >= 0 && v <= 1)) throw new RangeError(`toMnistInput: pixel (${x}, ${y}) is ${v}, expected a value in [0, 1]`);
      if (v > INK_THRESHOLD) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  const out = new Float32Array(MNIST_SIDE * MNIST_SIDE);
  if (x1 < 0) return out;

  const boxW = x1 - x0 + 1, boxH = y1 - y0 + 1;
  const scale = FIT_SIDE / Math.max(boxW, boxH);
  const pw = Math.max(1, Math.round(boxW * scale)), ph = Math.max(1, Math.round(boxH * scale));
  const patch = resampleArea(gray, width, x0, y0, boxW, boxH, pw, ph);

  // Centre of mass of the patch, then the offset that moves it to the frame's centre (clamped inside).
  let mass = 0, cx = 0, cy = 0;
  for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) {
    const v = patch[y * pw + x];
    mass += v; cx += v * (x + 0.5); cy += v * (y + 0.5);
  }
  const comX = mass > 0 ? cx / mass : pw / 2, comY = mass > 0 ? cy / mass : ph / 2;
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const offX = clamp(Math.round(MNIST_SIDE / 2 - comX), MNIST_SIDE - pw);
  const offY = clamp(Math.round(MNIST_SIDE / 2 - comY), MNIST_SIDE - ph);
  for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) {
    out[(y + offY) * MNIST_SIDE + x + offX] = patch[y * pw + x];
  }
  return out;
}

/**
 * Area-average resampling of the box (bx, by, bw, bh) of `src` to ow x oh: each output pixel is the mean of the
 * source over its footprint, with fractional coverage at the edges, so thin strokes keep their weight.
 */
function resampleArea(src: Float32Array, srcW: number, bx: number, by: number, bw: number, bh: number, ow: number, oh: number): Float32Array {
  const out = new Float32Array(ow * oh);
  const sx = bw / ow, sy = bh / oh;
  for (let oy = 0; oy < oh; oy++) {
    const fy0 = oy * sy, fy1 = fy0 + sy;
    for (let ox = 0; ox < ow; ox++) {
      const fx0 = ox * sx, fx1 = fx0 + sx;
      let sum = 0, area = 0;
      for (let y = Math.floor(fy0); y < Math.ceil(fy1); y++) {
        const wy = Math.min(fy1, y + 1) - Math.max(fy0, y);
        for (let x = Math.floor(fx0); x < Math.ceil(fx1); x++) {
          const w = wy * (Math.min(fx1, x + 1) - Math.max(fx0, x));
          sum += w * src[(by + y) * srcW + bx + x];
          area += w;
        }
      }
      out[oy * ow + ox] = Math.min(1, sum / area);
    }
  }
  return out;
}

/** Reads the ink of an RGBA canvas image (light strokes on dark) as gray values in [0, 1]. */
export function inkFromRgba(rgba: Uint8ClampedArray, width: number, height: number): Float32Array {
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`inkFromRgba: ${rgba.length} bytes, expected width x height x 4 = ${width * height * 4}`);
  }
  const gray = new Float32Array(width * height);
  for (let i = 0; i < gray.length; i++) {
    const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2], a = rgba[4 * i + 3] / 255;
    gray[i] = (((r + g + b) / 3) / 255) * a;
  }
  return gray;
}
