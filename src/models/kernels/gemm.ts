// Matrix products on the training kernels' own SIMD GEMM (assembly/kernels/gemm.ts), in place in
// the tfjs WASM heap. It is 1.3-3x faster than the backend's XNNPACK at LeNet's shapes (XNNPACK on
// WASM SIMD packs the right operand on every call and runs 10-16 G multiply-adds/s here; this one
// 16-20), and it reads its left operand through strides, so transposes and convolution patch
// matrices are never written out. Pointers are byte offsets into the heap.
import type * as tf from "@tensorflow/tfjs";
import { backendKernels } from "./kernels-wasm.js";

export type HeapBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
  incRef(dataId: object): void;
  wasm: { _malloc(bytes: number): number; _free(pointer: number): void; HEAPU8: Uint8Array };
};

/**
 * How an index of a matrix axis maps to a byte offset: index = (i2, i1, i0) with i0 < inner and
 * i1 < middle, offset = i0*strides[0] + i1*strides[1] + i2*strides[2].
 */
export interface AxisWalk {
  count: number;
  inner: number;
  middle: number;
  strides: [number, number, number];
}

/** A plain axis: `count` indices `stride` bytes apart. */
export function evenAxis(count: number, stride: number): AxisWalk {
  return { count, inner: Math.max(1, count), middle: 1, strides: [stride, 0, 0] };
}

/** A left operand read in place: A(i, k) at byte pointer + rows(i) + cols(k). */
export interface StridedOperand {
  pointer: number;
  rows: AxisWalk;
  cols: AxisWalk;
}

/** A right operand [K, N] at byte pointer, B(k, n) at pointer + k*rowStride + n*colStride. */
export interface DenseOperand {
  pointer: number;
  rowStride: number;
  colStride: number;
}

/** Where the product goes: C(i, j) at byte pointer + i*rowStride + j*colStride. */
export type ProductTarget = DenseOperand;

/** Floats of B [K, N] packed in strips of 8 columns. */
export const packedFloats = (k: number, n: number) => k * Math.ceil(n / 8) * 8;

/** Heap scratch of `floats` float32 values for the duration of `use` (freed after, also on errors). */
export function withScratch<T>(backend: HeapBackend, floats: number, use: (pointer: number) => T): T {
  const pointer = backend.wasm._malloc(Math.max(1, floats) * 4);
  try {
    return use(pointer);
  } finally {
    backend.wasm._free(pointer);
  }
}

/** Packs B (`k` x `n`) into `packed` (packedFloats(k, n) floats) for gemmPacked. */
export function packRight(backend: HeapBackend, b: DenseOperand, k: number, n: number, packed: number): void {
  backendKernels(backend).packColumnStrips(b.pointer, b.rowStride, b.colStride, k, n, packed);
}

/** C (+)= A·B with B already packed (`n` columns). A's column walk must cover exactly K indices. */
export function gemmPacked(backend: HeapBackend, a: StridedOperand, packed: number, n: number, c: ProductTarget, accumulate: boolean): void {
  const { rows, cols } = a;
  if (rows.count === 0 || n === 0) return;
  // K = 0 is fine: no terms, so C = 0 (or C unchanged when accumulating)
  if (cols.inner < 1 || cols.middle < 1 || cols.count % (cols.inner * cols.middle) !== 0) {
    throw new Error(`gemm: column walk ${JSON.stringify(cols)} does not tile ${cols.count} indices`);
  }
  const kernels = backendKernels(backend);
  const k = cols.count;
  const flag = accumulate ? 1 : 0;
  // a last strip of 1-4 columns goes to the 4x4 tiles of gemmNarrow
  const wide = n % 8 >= 1 && n % 8 <= 4 ? n - (n % 8) : n;
  if (wide > 0) {
    if (rows.count <= rows.inner && cols.count <= cols.inner) {
      // plain strided matrices: the GEMM's simpler (faster) copy of the loops
      kernels.gemmPlain(a.pointer, rows.count, rows.strides[0], k, cols.strides[0], packed, wide, c.pointer, c.rowStride, c.colStride, flag);
    } else {
      kernels.gemm(a.pointer, rows.count, rows.inner, rows.middle, ...rows.strides, k, cols.inner, cols.middle, ...cols.strides, packed, wide, c.pointer, c.rowStride, c.colStride, flag);
    }
  }
  if (wide < n) {
    kernels.gemmNarrow(
      a.pointer, rows.count, rows.inner, rows.middle, ...rows.strides, k, cols.inner, cols.middle, ...cols.strides,
      packed + (wide / 8) * packedFloats(k, 8) * 4, n - wide, c.pointer + wide * c.colStride, c.rowStride, c.colStride, flag,
    );
  }
}

/** C (+)= A·B for an A of `a.cols.count` columns and a B of `n` columns (packs B in scratch). */
export function multiply(backend: HeapBackend, a: StridedOperand, b: DenseOperand, n: number, c: ProductTarget, accumulate = false): void {
  const k = a.cols.count;
  withScratch(backend, packedFloats(k, n), (packed) => {
    packRight(backend, b, k, n, packed);
    gemmPacked(backend, a, packed, n, c, accumulate);
  });
}
