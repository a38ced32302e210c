// col2im for convolution input gradients: patch-gradient rows added back onto the image, in
// place in the tfjs WASM heap. For each output pixel and filter row, the (kw, c) run of the row
// is a contiguous slice of the image row when the stride is 1, so it is added four lanes at once.

/**
 * Adds `columns` ([count*OH*OW, KH*KW*C] at byte `src`, rows (n, oh, ow), columns (kh, kw, c))
 * onto the `count` NHWC images at byte `dst`.
 */
export function accumulatePatches(
  src: usize, dst: usize, count: i32,
  height: i32, width: i32, channels: i32,
  filterHeight: i32, filterWidth: i32, outHeight: i32, outWidth: i32,
  strideHeight: i32, strideWidth: i32, padTop: i32, padLeft: i32,
): void {
  const rowStride = <usize>(width * channels) << 2;
  const imageStride = <usize>height * rowStride;
  const filterRow = <usize>(filterWidth * channels) << 2;
  let p = src;
  for (let n = 0; n < count; n++) {
    const image = dst + <usize>n * imageStride;
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const firstCol = ow * strideWidth - padLeft;
        // the kw whose input column lies inside the image
        let kwStart = firstCol < 0 ? -firstCol : 0;
        let kwEnd = width - firstCol < filterWidth ? width - firstCol : filterWidth;
        if (kwEnd < kwStart) kwEnd = kwStart;
        const skip = <usize>(kwStart * channels) << 2;
        const bytes = <usize>((kwEnd - kwStart) * channels) << 2;
        for (let kh = 0; kh < filterHeight; kh++, p += filterRow) {
          const ih = oh * strideHeight + kh - padTop;
          if (ih < 0 || ih >= height || bytes == 0) continue;
          addInto(image + <usize>ih * rowStride + (<usize>((firstCol + kwStart) * channels) << 2), p + skip, bytes);
        }
      }
    }
  }
}

/** dst[i] += src[i] over `bytes` bytes (a multiple of 4). */
// @ts-ignore: decorator
@inline function addInto(dst: usize, src: usize, bytes: usize): void {
  const vectorEnd = dst + (bytes & ~15);
  const end = dst + bytes;
  while (dst < vectorEnd) {
    v128.store(dst, f32x4.add(v128.load(dst), v128.load(src)));
    dst += 16;
    src += 16;
  }
  while (dst < end) {
    store<f32>(dst, load<f32>(dst) + load<f32>(src));
    dst += 4;
    src += 4;
  }
}
