// A convolution's filter gradient from a mostly-zero dy (behind ReLU and a 2x2 max pool at most a
// quarter is nonzero): for each output channel, the patches of the pixels where dy is nonzero, two
// at a time, scaled and added onto that channel's row of dW^T. A patch is KH runs of KW*C
// contiguous floats of x when no patch reaches the padding. A few images at a time, so their x stays
// in cache across the channels.

/**
 * Adds onto dWT ([Co, KH*KW*C] at byte `dWT`) the filter gradient of `count` NHWC images (x at byte
 * `x`, dy at `dy`), `chunk` images at a time. Every patch must lie inside the image.
 */
export function sparseFilterGradient(
  x: usize, dy: usize, dWT: usize, count: i32, chunk: i32,
  height: i32, width: i32, channels: i32, filterHeight: i32, filterWidth: i32,
  outHeight: i32, outWidth: i32, strideHeight: i32, strideWidth: i32, outChannels: i32,
): void {
  const rowStride = <usize>(width * channels) << 2;
  const imageStride = <usize>height * rowStride;
  const run = filterWidth * channels;
  const tapBytes = <usize>(filterHeight * run) << 2;
  const pixelBytes = <usize>outChannels << 2;
  for (let first = 0; first < count; first += chunk) {
    const last = min(count, first + chunk);
    for (let co = 0; co < outChannels; co++) {
      const dst = dWT + <usize>co * tapBytes;
      let pending: usize = 0;
      let pendingValue: f32 = 0;
      let havePending = false;
      let g = dy + <usize>first * outHeight * outWidth * pixelBytes + (<usize>co << 2);
      for (let n = first; n < last; n++) {
        const image = x + <usize>n * imageStride;
        for (let oh = 0; oh < outHeight; oh++) {
          const row = image + <usize>(oh * strideHeight) * rowStride;
          for (let ow = 0; ow < outWidth; ow++, g += pixelBytes) {
            const v = load<f32>(g);
            if (v == 0) continue;
            const patch = row + (<usize>(ow * strideWidth * channels) << 2);
            if (havePending) {
              addScaledPatches(dst, pending, pendingValue, patch, v, rowStride, filterHeight, run);
              havePending = false;
            } else {
              pending = patch;
              pendingValue = v;
              havePending = true;
            }
          }
        }
      }
      if (havePending) addScaledPatches(dst, pending, pendingValue, pending, 0, rowStride, filterHeight, run);
    }
  }
}

/** dst[kh*run + j] += v1*p1[kh*rowStride + j] + v2*p2[kh*rowStride + j] for kh < runs, j < run. */
// @ts-ignore: decorator
@inline function addScaledPatches(dst: usize, p1: usize, v1: f32, p2: usize, v2: f32, rowStride: usize, runs: i32, run: i32): void {
  const s1 = f32x4.splat(v1), s2 = f32x4.splat(v2);
  const bytes = <usize>run << 2;
  const vectorBytes = bytes & ~15;
  for (let kh = 0; kh < runs; kh++, dst += bytes, p1 += rowStride, p2 += rowStride) {
    let j: usize = 0;
    for (; j < vectorBytes; j += 16) {
      v128.store(dst + j, f32x4.add(v128.load(dst + j), f32x4.add(f32x4.mul(s1, v128.load(p1 + j)), f32x4.mul(s2, v128.load(p2 + j)))));
    }
    for (; j < bytes; j += 4) store<f32>(dst + j, load<f32>(dst + j) + (v1 * load<f32>(p1 + j) + v2 * load<f32>(p2 + j)));
  }
}
