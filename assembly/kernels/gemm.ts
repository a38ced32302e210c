// Single-threaded SIMD matrix product C (+)= A·B for the training kernels, in the tfjs WASM heap.
// B is packed first into strips of 8 columns (packColumnStrips) so the inner loop reads it
// sequentially; A is read in place through strides, so a convolution's patch matrix never has to
// be written out (implicit im2col): A(i, k) = a + rowOffset(i) + columnOffset(k), each offset a
// sum of up to three index digits times a stride. Tiles of 4 rows x 8 columns keep 8 accumulators
// plus 2 B vectors and a broadcast in the 16 SIMD registers (6 rows spill in V8: 2x slower).
// Every C element is one sum over k in increasing order (no blocking of k), a float32 product per term.

/**
 * Packs B [K, N] (element (k, n) at byte b + k*rowStride + n*colStride) into dst as strips of 8
 * columns: dst[(s*K + k)*8 + j] = B(k, 8s + j), zero past column N.
 */
export function packColumnStrips(b: usize, rowStride: usize, colStride: usize, K: i32, N: i32, dst: usize): void {
  const strips = (N + 7) >> 3;
  let p = dst;
  for (let s = 0; s < strips; s++) {
    const first = s << 3;
    const width = min(8, N - first);
    let row = b + <usize>first * colStride;
    if (width == 8 && colStride == 4) {
      for (let k = 0; k < K; k++, row += rowStride, p += 32) {
        v128.store(p, v128.load(row));
        v128.store(p, v128.load(row, 16), 16);
      }
    } else {
      for (let k = 0; k < K; k++, row += rowStride, p += 32) {
        let q = row;
        let j = 0;
        for (; j < width; j++, q += colStride) store<f32>(p + (<usize>j << 2), load<f32>(q));
        for (; j < 8; j++) store<f32>(p + (<usize>j << 2), 0);
      }
    }
  }
}

/**
 * C (+)= A·B. A [M, K]: row i = (i2, i1, i0) with i0 < rowInner, i1 < rowMiddle, at byte offset
 * i2*rowStride2 + i1*rowStride1 + i0*rowStride0; column k = (k2, k1, k0) likewise with colInner,
 * colMiddle and colStride2..0 (a plain row-major matrix: rowInner = M, colInner = K, the other
 * sizes 1). B packed by packColumnStrips (N columns). C(i, j) at byte c + i*cRowStride + j*cColStride;
 * `accumulate` adds to C instead of overwriting it. 4x8 tiles (a last strip of 1-4 columns is
 * cheaper with gemmNarrow: the caller splits it off).
 */
export function gemm(
  a: usize, M: i32, rowInner: i32, rowMiddle: i32, rowStride0: usize, rowStride1: usize, rowStride2: usize,
  K: i32, colInner: i32, colMiddle: i32, colStride0: usize, colStride1: usize, colStride2: usize,
  packed: usize, N: i32, c: usize, cRowStride: usize, cColStride: usize, accumulate: bool,
): void {
  const stripBytes = <usize>K << 5;
  const colOuter = K / (colInner * colMiddle);
  for (let i = 0; i < M; i += 4) {
    const rows = min(4, M - i);
    // rows past M repeat the last row (computed, never stored)
    const a0 = a + rowOffset(i, rowInner, rowMiddle, rowStride0, rowStride1, rowStride2);
    const a1 = a + rowOffset(i + min(1, rows - 1), rowInner, rowMiddle, rowStride0, rowStride1, rowStride2);
    const a2 = a + rowOffset(i + min(2, rows - 1), rowInner, rowMiddle, rowStride0, rowStride1, rowStride2);
    const a3 = a + rowOffset(i + min(3, rows - 1), rowInner, rowMiddle, rowStride0, rowStride1, rowStride2);
    const cRow = c + <usize>i * cRowStride;
    let strip = packed;
    for (let j = 0; j < N; j += 8, strip += stripBytes) {
      tile8(a0, a1, a2, a3, colOuter, colMiddle, colInner, colStride0, colStride1, colStride2, strip, cRow + <usize>j * cColStride, cRowStride, cColStride, rows, min(8, N - j), accumulate);
    }
  }
}

/** gemm for one strip of N <= 4 columns, in 4x4 tiles (half the work of 4x8 ones there). */
export function gemmNarrow(
  a: usize, M: i32, rowInner: i32, rowMiddle: i32, rowStride0: usize, rowStride1: usize, rowStride2: usize,
  K: i32, colInner: i32, colMiddle: i32, colStride0: usize, colStride1: usize, colStride2: usize,
  packed: usize, N: i32, c: usize, cRowStride: usize, cColStride: usize, accumulate: bool,
): void {
  const colOuter = K / (colInner * colMiddle);
  for (let i = 0; i < M; i += 4) {
    const rows = min(4, M - i);
    const a0 = a + rowOffset(i, rowInner, rowMiddle, rowStride0, rowStride1, rowStride2);
    const a1 = a + rowOffset(i + min(1, rows - 1), rowInner, rowMiddle, rowStride0, rowStride1, rowStride2);
    const a2 = a + rowOffset(i + min(2, rows - 1), rowInner, rowMiddle, rowStride0, rowStride1, rowStride2);
    const a3 = a + rowOffset(i + min(3, rows - 1), rowInner, rowMiddle, rowStride0, rowStride1, rowStride2);
    tile4(a0, a1, a2, a3, colOuter, colMiddle, colInner, colStride0, colStride1, colStride2, packed, c + <usize>i * cRowStride, cRowStride, cColStride, rows, min(4, N), accumulate);
  }
}

/**
 * gemm for a plain row-major or transposed A (A(i, k) at a + i*rowStride + k*colStride), in a function
 * of its own: in a larger body V8 keeps fewer of the loop's pointers in registers (25% slower at K = 50).
 */
export function gemmPlain(
  a: usize, M: i32, rowStride: usize, K: i32, colStride: usize,
  packed: usize, N: i32, c: usize, cRowStride: usize, cColStride: usize, accumulate: bool,
): void {
  const stripBytes = <usize>K << 5;
  for (let i = 0; i < M; i += 4) {
    const rows = min(4, M - i);
    const a0 = a + <usize>i * rowStride;
    const a1 = a + <usize>(i + min(1, rows - 1)) * rowStride;
    const a2 = a + <usize>(i + min(2, rows - 1)) * rowStride;
    const a3 = a + <usize>(i + min(3, rows - 1)) * rowStride;
    const cRow = c + <usize>i * cRowStride;
    let strip = packed;
    for (let j = 0; j < N; j += 8, strip += stripBytes) {
      plainTile8(a0, a1, a2, a3, K, colStride, strip, cRow + <usize>j * cColStride, cRowStride, cColStride, rows, min(8, N - j), accumulate);
    }
  }
}

// @ts-ignore: decorator
@inline function rowOffset(i: i32, inner: i32, middle: i32, stride0: usize, stride1: usize, stride2: usize): usize {
  const i0 = i % inner;
  const rest = i / inner;
  return <usize>i0 * stride0 + <usize>(rest % middle) * stride1 + <usize>(rest / middle) * stride2;
}

/**
 * A 4x8 tile: rows a0..a3 times one packed strip, into C (the first `rows` x `cols` of it). Not
 * inlined (binaryen leaves a function this large alone): as a function of its own V8 keeps the walk's
 * pointers and accumulators in registers; inlined into gemm's loops the walk runs at half the speed.
 */
function tile8(
  a0: usize, a1: usize, a2: usize, a3: usize,
  outer: i32, middle: i32, inner: i32, s0: usize, s1: usize, s2: usize,
  b: usize, c: usize, cRowStride: usize, cColStride: usize, rows: i32, cols: i32, accumulate: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k2 = 0; k2 < outer; k2++) {
    for (let k1 = 0; k1 < middle; k1++) {
      const offset = <usize>k2 * s2 + <usize>k1 * s1;
      let p0 = a0 + offset, p1 = a1 + offset, p2 = a2 + offset, p3 = a3 + offset;
      for (let k0 = 0; k0 < inner; k0++, b += 32, p0 += s0, p1 += s0, p2 += s0, p3 += s0) {
        const b0 = v128.load(b), b1 = v128.load(b, 16);
        let x = v128.load32_splat(p0);
        c00 = f32x4.add(c00, f32x4.mul(x, b0));
        c01 = f32x4.add(c01, f32x4.mul(x, b1));
        x = v128.load32_splat(p1);
        c10 = f32x4.add(c10, f32x4.mul(x, b0));
        c11 = f32x4.add(c11, f32x4.mul(x, b1));
        x = v128.load32_splat(p2);
        c20 = f32x4.add(c20, f32x4.mul(x, b0));
        c21 = f32x4.add(c21, f32x4.mul(x, b1));
        x = v128.load32_splat(p3);
        c30 = f32x4.add(c30, f32x4.mul(x, b0));
        c31 = f32x4.add(c31, f32x4.mul(x, b1));
      }
    }
  }
  storeTile(c, cRowStride, cColStride, rows, cols, accumulate, c00, c01, c10, c11, c20, c21, c30, c31);
}

/** tile8 for a plain column walk: one k loop. */
// @ts-ignore: decorator
@inline function plainTile8(
  a0: usize, a1: usize, a2: usize, a3: usize, K: i32, s0: usize,
  b: usize, c: usize, cRowStride: usize, cColStride: usize, rows: i32, cols: i32, accumulate: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let x = v128.load32_splat(a0);
    c00 = f32x4.add(c00, f32x4.mul(x, b0));
    c01 = f32x4.add(c01, f32x4.mul(x, b1));
    x = v128.load32_splat(a1);
    c10 = f32x4.add(c10, f32x4.mul(x, b0));
    c11 = f32x4.add(c11, f32x4.mul(x, b1));
    x = v128.load32_splat(a2);
    c20 = f32x4.add(c20, f32x4.mul(x, b0));
    c21 = f32x4.add(c21, f32x4.mul(x, b1));
    x = v128.load32_splat(a3);
    c30 = f32x4.add(c30, f32x4.mul(x, b0));
    c31 = f32x4.add(c31, f32x4.mul(x, b1));
    a0 += s0; a1 += s0; a2 += s0; a3 += s0; b += 32;
  }
  storeTile(c, cRowStride, cColStride, rows, cols, accumulate, c00, c01, c10, c11, c20, c21, c30, c31);
}

/** A 4x4 tile for the last <= 4 columns (half the work of a 4x8 tile there); not inlined, as tile8. */
function tile4(
  a0: usize, a1: usize, a2: usize, a3: usize,
  outer: i32, middle: i32, inner: i32, s0: usize, s1: usize, s2: usize,
  b: usize, c: usize, cRowStride: usize, cColStride: usize, rows: i32, cols: i32, accumulate: bool,
): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  for (let k2 = 0; k2 < outer; k2++) {
    for (let k1 = 0; k1 < middle; k1++) {
      const offset = <usize>k2 * s2 + <usize>k1 * s1;
      let p0 = a0 + offset, p1 = a1 + offset, p2 = a2 + offset, p3 = a3 + offset;
      for (let k0 = 0; k0 < inner; k0++, b += 32, p0 += s0, p1 += s0, p2 += s0, p3 += s0) {
        const b0 = v128.load(b);
        c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(p0), b0));
        c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(p1), b0));
        c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(p2), b0));
        c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(p3), b0));
      }
    }
  }
  const zero = f32x4.splat(0);
  storeRow(c, cColStride, c0, zero, cols, accumulate);
  if (rows > 1) storeRow(c + cRowStride, cColStride, c1, zero, cols, accumulate);
  if (rows > 2) storeRow(c + 2 * cRowStride, cColStride, c2, zero, cols, accumulate);
  if (rows > 3) storeRow(c + 3 * cRowStride, cColStride, c3, zero, cols, accumulate);
}

/** Writes (or adds) the first `rows` x `cols` of a 4x8 tile; a whole tile in a row-major C is 8 plain stores. */
// @ts-ignore: decorator
@inline function storeTile(
  c: usize, cRowStride: usize, cColStride: usize, rows: i32, cols: i32, accumulate: bool,
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128,
): void {
  if (rows == 4 && cols == 8 && cColStride == 4 && !accumulate) {
    v128.store(c, c00);
    v128.store(c, c01, 16);
    v128.store(c + cRowStride, c10);
    v128.store(c + cRowStride, c11, 16);
    v128.store(c + 2 * cRowStride, c20);
    v128.store(c + 2 * cRowStride, c21, 16);
    v128.store(c + 3 * cRowStride, c30);
    v128.store(c + 3 * cRowStride, c31, 16);
    return;
  }
  storeRow(c, cColStride, c00, c01, cols, accumulate);
  if (rows > 1) storeRow(c + cRowStride, cColStride, c10, c11, cols, accumulate);
  if (rows > 2) storeRow(c + 2 * cRowStride, cColStride, c20, c21, cols, accumulate);
  if (rows > 3) storeRow(c + 3 * cRowStride, cColStride, c30, c31, cols, accumulate);
}

/** Writes (or adds) the first `cols` of the 8 values lo ++ hi at c, c + stride, ... */
// @ts-ignore: decorator
@inline function storeRow(c: usize, stride: usize, lo: v128, hi: v128, cols: i32, accumulate: bool): void {
  if (stride == 4 && cols == 8) {
    if (accumulate) {
      lo = f32x4.add(lo, v128.load(c));
      hi = f32x4.add(hi, v128.load(c, 16));
    }
    v128.store(c, lo);
    v128.store(c, hi, 16);
    return;
  }
  storeLane(c, f32x4.extract_lane(lo, 0), accumulate);
  if (cols > 1) storeLane(c + stride, f32x4.extract_lane(lo, 1), accumulate);
  if (cols > 2) storeLane(c + 2 * stride, f32x4.extract_lane(lo, 2), accumulate);
  if (cols > 3) storeLane(c + 3 * stride, f32x4.extract_lane(lo, 3), accumulate);
  if (cols > 4) storeLane(c + 4 * stride, f32x4.extract_lane(hi, 0), accumulate);
  if (cols > 5) storeLane(c + 5 * stride, f32x4.extract_lane(hi, 1), accumulate);
  if (cols > 6) storeLane(c + 6 * stride, f32x4.extract_lane(hi, 2), accumulate);
  if (cols > 7) storeLane(c + 7 * stride, f32x4.extract_lane(hi, 3), accumulate);
}

// @ts-ignore: decorator
@inline function storeLane(c: usize, v: f32, accumulate: bool): void {
  store<f32>(c, accumulate ? load<f32>(c) + v : v);
}
