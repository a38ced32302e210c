// A convolution's input gradient from a mostly-zero dy, without the patch-gradient matrix: behind
// ReLU and a 2x2 max pool at most a quarter of dy is nonzero (one position per window and channel),
// so each output pixel's nonzero channels, two at a time, add their rows of W^T straight onto the
// patch in dx: a (kw, c) run of W^T is a contiguous run of dx for every stride when no patch
// reaches the padding. A quarter of the dense product's multiply-adds, and no col2im.

/** Nonzero float32 values among `count` at byte `src` (NaN counts as nonzero). */
export function countNonzero(src: usize, count: i32): i32 {
  let nonzero = i32x4.splat(0);
  const zero = f32x4.splat(0);
  const end = src + (<usize>(count & ~3) << 2);
  // f32x4.ne is all ones (-1) where a lane is nonzero or NaN
  for (; src < end; src += 16) nonzero = i32x4.sub(nonzero, f32x4.ne(v128.load(src), zero));
  let total = i32x4.extract_lane(nonzero, 0) + i32x4.extract_lane(nonzero, 1) + i32x4.extract_lane(nonzero, 2) + i32x4.extract_lane(nonzero, 3);
  for (let i = count & ~3; i < count; i++, src += 4) if (load<f32>(src) != 0) total++;
  return total;
}

/** dst [cols, rows] = src [rows, cols] transposed (bytes `src`, `dst`). */
export function transposeMatrix(src: usize, rows: i32, cols: i32, dst: usize): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) store<f32>(dst + ((<usize>c * rows + r) << 2), load<f32>(src + ((<usize>r * cols + c) << 2)));
  }
}

/**
 * Adds the input gradient of `count` images onto NHWC dx (byte `dx`): for every output pixel and
 * nonzero dy[n, oh, ow, co], dy times row co of wT ([Co, KH*KW*C], byte `wT`) onto the patch of
 * (oh, ow). Every patch must lie inside the image.
 */
export function sparseInputGradient(
  dy: usize, wT: usize, dx: usize, count: i32,
  height: i32, width: i32, channels: i32, filterHeight: i32, filterWidth: i32,
  outHeight: i32, outWidth: i32, strideHeight: i32, strideWidth: i32, outChannels: i32,
): void {
  const rowStride = <usize>(width * channels) << 2;
  const imageStride = <usize>height * rowStride;
  const run = filterWidth * channels; // floats of one (kw, c) run
  const tapBytes = <usize>(filterHeight * run) << 2; // one row of wT
  let g = dy;
  for (let n = 0; n < count; n++) {
    const image = dx + <usize>n * imageStride;
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++, g += <usize>outChannels << 2) {
        const corner = image + <usize>(oh * strideHeight) * rowStride + (<usize>(ow * strideWidth * channels) << 2);
        let co = 0;
        while (true) {
          while (co < outChannels && load<f32>(g + (<usize>co << 2)) == 0) co++;
          if (co >= outChannels) break;
          const first = co++;
          while (co < outChannels && load<f32>(g + (<usize>co << 2)) == 0) co++;
          const v1 = load<f32>(g + (<usize>first << 2));
          const w1 = wT + <usize>first * tapBytes;
          if (co >= outChannels) {
            addScaledRuns(corner, rowStride, w1, v1, w1, 0, filterHeight, run);
            break;
          }
          const second = co++;
          addScaledRuns(corner, rowStride, w1, v1, wT + <usize>second * tapBytes, load<f32>(g + (<usize>second << 2)), filterHeight, run);
        }
      }
    }
  }
}

/** For each of `runs` rows kh: dst[kh*rowStride + j] += v1*w1[kh*run + j] + v2*w2[kh*run + j], j < run. */
// @ts-ignore: decorator
@inline function addScaledRuns(dst: usize, rowStride: usize, w1: usize, v1: f32, w2: usize, v2: f32, runs: i32, run: i32): void {
  const s1 = f32x4.splat(v1), s2 = f32x4.splat(v2);
  const bytes = <usize>run << 2;
  const vectorBytes = bytes & ~15;
  for (let kh = 0; kh < runs; kh++, dst += rowStride, w1 += bytes, w2 += bytes) {
    let j: usize = 0;
    for (; j < vectorBytes; j += 16) {
      v128.store(dst + j, f32x4.add(v128.load(dst + j), f32x4.add(f32x4.mul(s1, v128.load(w1 + j)), f32x4.mul(s2, v128.load(w2 + j)))));
    }
    for (; j < bytes; j += 4) store<f32>(dst + j, load<f32>(dst + j) + (v1 * load<f32>(w1 + j) + v2 * load<f32>(w2 + j)));
  }
}
