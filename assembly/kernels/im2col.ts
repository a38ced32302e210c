// Transposed patch matrix (im2col) for convolution filter gradients, written straight into the
// tfjs WASM heap (this module imports that memory). Rows are (kh, kw, c), columns (n, oh, ow).

/**
 * Writes the [KH*KW*C, count*OH*OW] patches of `count` NHWC images starting at byte `src` into
 * byte `dst`; zero where a patch reaches into the padding.
 */
export function transposedPatches(
  src: usize, dst: usize, count: i32,
  height: i32, width: i32, channels: i32,
  filterHeight: i32, filterWidth: i32, outHeight: i32, outWidth: i32,
  strideHeight: i32, strideWidth: i32, padTop: i32, padLeft: i32,
): void {
  const rowStride = <usize>(width * channels) << 2;
  const imageStride = <usize>height * rowStride;
  const pixelStride = <usize>(strideWidth * channels) << 2;
  let p = dst;
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      // the output columns whose input column iw = ow*sw + kw - left lies inside the image
      const firstCol = kw - padLeft;
      let owStart = 0;
      if (firstCol < 0) owStart = (-firstCol + strideWidth - 1) / strideWidth;
      let owEnd = outWidth;
      const lastInside = width - 1 - firstCol; // ow*sw <= lastInside
      if (lastInside < 0) owEnd = 0;
      else if ((outWidth - 1) * strideWidth > lastInside) owEnd = lastInside / strideWidth + 1;
      if (owStart > owEnd) owStart = owEnd;
      const inside = owEnd - owStart;
      for (let c = 0; c < channels; c++) {
        for (let n = 0; n < count; n++) {
          const image = src + <usize>n * imageStride + (<usize>c << 2);
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * strideHeight + kh - padTop;
            if (ih < 0 || ih >= height) {
              memory.fill(p, 0, <usize>outWidth << 2);
              p += <usize>outWidth << 2;
              continue;
            }
            if (owStart > 0) {
              memory.fill(p, 0, <usize>owStart << 2);
              p += <usize>owStart << 2;
            }
            let q = image + <usize>ih * rowStride + (<usize>(owStart * strideWidth + firstCol) * channels << 2);
            if (pixelStride == 4) {
              // one channel, stride 1: the patch row is a slice of the image row
              memory.copy(p, q, <usize>inside << 2);
              p += <usize>inside << 2;
            } else {
              for (let i = 0; i < inside; i++) {
                store<f32>(p, load<f32>(q));
                p += 4;
                q += pixelStride;
              }
            }
            const after = outWidth - owEnd;
            if (after > 0) {
              memory.fill(p, 0, <usize>after << 2);
              p += <usize>after << 2;
            }
          }
        }
      }
    }
  }
}
