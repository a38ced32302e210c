// x + b with b broadcast over the rows of x (a layer's bias added to its [..., C] output), four
// columns at once, in the tfjs WASM heap. The shipped broadcasting Add walks indices one by one.

/** dst[r*cols + c] = src[r*cols + c] + bias[c] for r < rows (bytes `src`, `bias`, `dst`; dst may be src). */
export function addRowBias(src: usize, bias: usize, dst: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  const vectorBytes = rowBytes & ~15;
  for (let r = 0; r < rows; r++, src += rowBytes, dst += rowBytes) {
    let i: usize = 0;
    for (; i < vectorBytes; i += 16) v128.store(dst + i, f32x4.add(v128.load(src + i), v128.load(bias + i)));
    for (; i < rowBytes; i += 4) store<f32>(dst + i, load<f32>(src + i) + load<f32>(bias + i));
  }
}
