// The AssemblyScript training kernels (assembly/kernels/, build/kernels.wasm), instantiated on the
// tfjs WASM backend's own memory: tensors are read and written in place, pointers are the byte
// offsets of typedArrayFromHeap views. initBackend() compiles the module asynchronously first
// (compileKernels): at ~10 KB it is over the 4 KB that some browsers allow a synchronous compile on
// the main thread. Without that (tests on a memory of their own, in Node) it compiles synchronously.
import type * as tf from "@tensorflow/tfjs";
import { kernelsSharedWasmBase64, kernelsWasmBase64 } from "./generated/kernels-wasm.js";

type Geometry = [height: number, width: number, channels: number, filterHeight: number, filterWidth: number,
  outHeight: number, outWidth: number, strideHeight: number, strideWidth: number, padTop: number, padLeft: number];

export interface KernelsWasm {
  transposedPatches(src: number, dst: number, count: number, ...geometry: Geometry): void;
  accumulatePatches(src: number, dst: number, count: number, ...geometry: Geometry): void;
  maxPoolGrad(x: number, dy: number, dx: number, batch: number, ...geometry: Geometry): void;
  sumLeadingAxes(src: number, dst: number, rows: number, cols: number): void;
  addRowBias(src: number, bias: number, dst: number, rows: number, cols: number): void;
  countNonzero(src: number, count: number): number;
  transposeMatrix(src: number, rows: number, cols: number, dst: number): void;
  sparseFilterGradient(
    x: number, dy: number, dWT: number, count: number, chunk: number, height: number, width: number, channels: number, filterHeight: number, filterWidth: number,
    outHeight: number, outWidth: number, strideHeight: number, strideWidth: number, outChannels: number,
  ): void;
  sparseInputGradient(
    dy: number, wT: number, dx: number, count: number, height: number, width: number, channels: number, filterHeight: number, filterWidth: number,
    outHeight: number, outWidth: number, strideHeight: number, strideWidth: number, outChannels: number,
  ): void;
  packColumnStrips(b: number, rowStride: number, colStride: number, k: number, n: number, dst: number): void;
  gemm(
    a: number, m: number, rowInner: number, rowMiddle: number, rowStride0: number, rowStride1: number, rowStride2: number,
    k: number, colInner: number, colMiddle: number, colStride0: number, colStride1: number, colStride2: number,
    packed: number, n: number, c: number, cRowStride: number, cColStride: number, accumulate: number,
  ): void;
  gemmNarrow(
    a: number, m: number, rowInner: number, rowMiddle: number, rowStride0: number, rowStride1: number, rowStride2: number,
    k: number, colInner: number, colMiddle: number, colStride0: number, colStride1: number, colStride2: number,
    packed: number, n: number, c: number, cRowStride: number, cColStride: number, accumulate: number,
  ): void;
  gemmPlain(
    a: number, m: number, rowStride: number, k: number, colStride: number,
    packed: number, n: number, c: number, cRowStride: number, cColStride: number, accumulate: number,
  ): void;
}

const instances = new WeakMap<WebAssembly.Memory, KernelsWasm>();
let modules: { plain: WebAssembly.Module; shared: WebAssembly.Module } | null = null;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Compiles both variants of the module asynchronously, once (initBackend awaits it), unless given precompiled. */
export async function compileKernels(given?: { plain: WebAssembly.Module; shared: WebAssembly.Module }): Promise<void> {
  if (given) {
    if (!(given.plain instanceof WebAssembly.Module && given.shared instanceof WebAssembly.Module)) {
      throw new TypeError("kernelModules: expected { plain, shared } WebAssembly.Module values (build/kernels.wasm, build/kernels-shared.wasm)");
    }
    modules ??= given;
    return;
  }
  if (modules) return;
  const [plain, shared] = await Promise.all([WebAssembly.compile(decodeBase64(kernelsWasmBase64)), WebAssembly.compile(decodeBase64(kernelsSharedWasmBase64))]);
  modules ??= { plain, shared };
}

/** The kernels bound to `memory` (one instance per memory, created on first use). */
export function kernelsFor(memory: WebAssembly.Memory): KernelsWasm {
  let kernels = instances.get(memory);
  if (!kernels) {
    modules ??= { plain: new WebAssembly.Module(decodeBase64(kernelsWasmBase64)), shared: new WebAssembly.Module(decodeBase64(kernelsSharedWasmBase64)) };
    const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
    const instance = new WebAssembly.Instance(shared ? modules.shared : modules.plain, { env: { memory } });
    kernels = instance.exports as unknown as KernelsWasm;
    instances.set(memory, kernels);
  }
  return kernels;
}

/** The kernels on the memory of a tfjs WASM backend. */
export function backendKernels(backend: tf.KernelBackend): KernelsWasm {
  // emscripten keeps the instance's exports (memory included) on Module.asm
  const module = (backend as unknown as { wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown } }).wasm;
  const memory = module?.asm?.memory ?? module?.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) {
    throw new Error("the tfjs WASM backend does not expose its WebAssembly.Memory (Module.asm.memory): the training kernels need tfjs-backend-wasm 4.x");
  }
  return kernelsFor(memory);
}
