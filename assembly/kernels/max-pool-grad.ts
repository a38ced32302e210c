// Max-pool gradient on NHWC tensors in the tfjs WASM heap, four channels per SIMD lane group:
// each window sends its dy to the window's first maximum in row-major order (the cpu kernel's
// tie rule, which matters after ReLU); NaN never counts as a maximum.

/** dx (byte `dxPtr`, zeroed here) from x (`xPtr`) and dy (`dyPtr`) of a max pool. */
export function maxPoolGrad(
  xPtr: usize, dyPtr: usize, dxPtr: usize, batch: i32,
  height: i32, width: i32, channels: i32,
  filterHeight: i32, filterWidth: i32, outHeight: i32, outWidth: i32,
  strideHeight: i32, strideWidth: i32, padTop: i32, padLeft: i32,
): void {
  if (strideHeight == filterHeight && strideWidth == filterWidth && padTop == 0 && padLeft == 0 &&
      outHeight * strideHeight == height && outWidth * strideWidth == width) {
    tiledMaxPoolGrad(xPtr, dyPtr, dxPtr, batch, channels, filterHeight, filterWidth, outHeight, outWidth);
    return;
  }
  const rowStride = <usize>(width * channels) << 2;
  const imageStride = <usize>height * rowStride;
  const pixel = <usize>channels << 2;
  memory.fill(dxPtr, 0, <usize>batch * imageStride);
  const vectorChannels = channels & ~3;
  let g = dyPtr;
  for (let b = 0; b < batch; b++) {
    const image = <usize>b * imageStride;
    for (let oh = 0; oh < outHeight; oh++) {
      const rowCorner = oh * strideHeight - padTop;
      const rMin = max(0, rowCorner);
      const rMax = min(height, rowCorner + filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const colCorner = ow * strideWidth - padLeft;
        const cMin = max(0, colCorner);
        const cMax = min(width, colCorner + filterWidth);
        const corner = image + <usize>rMin * rowStride + <usize>cMin * pixel;
        let c = 0;
        for (; c < vectorChannels; c += 4, g += 16) {
          const offset = corner + (<usize>c << 2);
          let best = f32x4.splat(-Infinity);
          let at = i32x4.splat(-1);
          let position = 0;
          for (let r = rMin; r < rMax; r++) {
            let q = offset + <usize>(r - rMin) * rowStride;
            for (let col = cMin; col < cMax; col++, q += pixel, position++) {
              const v = v128.load(xPtr + q);
              const larger = f32x4.gt(v, best);
              best = v128.bitselect(v, best, larger);
              at = v128.bitselect(i32x4.splat(position), at, larger);
            }
          }
          const dy = v128.load(g);
          position = 0;
          for (let r = rMin; r < rMax; r++) {
            let q = offset + <usize>(r - rMin) * rowStride;
            for (let col = cMin; col < cMax; col++, q += pixel, position++) {
              const hit = i32x4.eq(at, i32x4.splat(position));
              if (v128.any_true(hit)) {
                const d = dxPtr + q;
                v128.store(d, f32x4.add(v128.load(d), v128.and(dy, hit)));
              }
            }
          }
        }
        for (; c < channels; c++, g += 4) {
          let best = -Infinity as f32;
          let at: usize = 0;
          let found = false;
          for (let r = rMin; r < rMax; r++) {
            let q = corner + (<usize>c << 2) + <usize>(r - rMin) * rowStride;
            for (let col = cMin; col < cMax; col++, q += pixel) {
              const v = load<f32>(xPtr + q);
              if (v > best) {
                best = v;
                at = q;
                found = true;
              }
            }
          }
          if (found) store<f32>(dxPtr + at, load<f32>(dxPtr + at) + load<f32>(g));
        }
      }
    }
  }
}

/**
 * maxPoolGrad when the windows tile the image exactly (stride = window, no padding: LeNet's pools):
 * every dx element belongs to one window, so it is stored once (dy or 0) instead of zeroed and added to.
 */
function tiledMaxPoolGrad(
  xPtr: usize, dyPtr: usize, dxPtr: usize, batch: i32, channels: i32,
  filterHeight: i32, filterWidth: i32, outHeight: i32, outWidth: i32,
): void {
  const pixel = <usize>channels << 2;
  const rowStride = <usize>(outWidth * filterWidth) * pixel;
  const vectorChannels = channels & ~3;
  let g = dyPtr;
  for (let b = 0; b < batch * outHeight; b++) {
    // one row of windows: image rows b*filterHeight ..
    const top = <usize>b * filterHeight * rowStride;
    for (let ow = 0; ow < outWidth; ow++) {
      const corner = top + <usize>(ow * filterWidth) * pixel;
      let c = 0;
      for (; c < vectorChannels; c += 4, g += 16) {
        const offset = corner + (<usize>c << 2);
        let best = f32x4.splat(-Infinity);
        let at = i32x4.splat(-1);
        let position = 0;
        for (let r = 0; r < filterHeight; r++) {
          let q = offset + <usize>r * rowStride;
          for (let col = 0; col < filterWidth; col++, q += pixel, position++) {
            const v = v128.load(xPtr + q);
            const larger = f32x4.gt(v, best);
            best = v128.bitselect(v, best, larger);
            at = v128.bitselect(i32x4.splat(position), at, larger);
          }
        }
        const dy = v128.load(g);
        position = 0;
        for (let r = 0; r < filterHeight; r++) {
          let q = offset + <usize>r * rowStride;
          for (let col = 0; col < filterWidth; col++, q += pixel, position++) {
            v128.store(dxPtr + q, v128.and(dy, i32x4.eq(at, i32x4.splat(position))));
          }
        }
      }
      for (; c < channels; c++, g += 4) {
        const offset = corner + (<usize>c << 2);
        let best = -Infinity as f32;
        let at: usize = -1;
        for (let r = 0; r < filterHeight; r++) {
          let q = offset + <usize>r * rowStride;
          for (let col = 0; col < filterWidth; col++, q += pixel) {
            const v = load<f32>(xPtr + q);
            if (v > best) {
              best = v;
              at = q;
            }
            store<f32>(dxPtr + q, 0);
          }
        }
        if (at != -1) store<f32>(dxPtr + at, load<f32>(g));
      }
    }
  }
}
