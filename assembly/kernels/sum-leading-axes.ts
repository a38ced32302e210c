// Sum over the leading axes of a float32 tensor (a convolution's bias gradient: dy [N, H, W, C]
// summed to [C]), row by row and four columns at once, in the tfjs WASM heap.

/** dst[c] = sum over r of src[r * cols + c], rows in order (src at byte `src`, dst at `dst`). */
export function sumLeadingAxes(src: usize, dst: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  const vectorBytes = rowBytes & ~15;
  memory.fill(dst, 0, rowBytes);
  let p = src;
  for (let r = 0; r < rows; r++, p += rowBytes) {
    let i: usize = 0;
    for (; i < vectorBytes; i += 16) v128.store(dst + i, f32x4.add(v128.load(dst + i), v128.load(p + i)));
    for (; i < rowBytes; i += 4) store<f32>(dst + i, load<f32>(dst + i) + load<f32>(p + i));
  }
}
