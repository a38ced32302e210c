// The one place that starts TensorFlow.js on its WASM backend, in Node and in browsers. Every
// other module awaits initBackend() before touching tensors, so nothing silently runs on cpu.
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { registerTrainingKernels } from "./kernels/index.js";
import { compileKernels } from "./kernels/kernels-wasm.js";

export interface BackendOptions {
  /**
   * Where the tfjs-backend-wasm `.wasm` files are served from after bundling: a URL prefix ending
   * in "/" or a map from file name (tfjs-backend-wasm.wasm, tfjs-backend-wasm-simd.wasm, ...) to URL.
   * Not needed in Node, where the package finds its own files.
   */
  wasmPaths?: string | Record<string, string>;
  /** Force SIMD off (true keeps the detected value; SIMD cannot be forced on where it is missing). */
  simd?: boolean;
  /**
   * The project's training kernels precompiled (build/kernels.wasm and build/kernels-shared.wasm, the
   * package exports "./kernels.wasm" and "./kernels-shared.wasm"), for runtimes that forbid compiling
   * WASM from bytes (Cloudflare workerd). Default: compiled from the embedded bytes.
   */
  kernelModules?: { plain: WebAssembly.Module; shared: WebAssembly.Module };
  /**
   * Register this project's kernels (default true). They replace, for the whole process (tfjs keeps one
   * kernel registry), the WASM backend's kernels named in `trainingKernelNames` and add the ones it lacks;
   * false keeps tfjs's own (training then fails on the missing gradient kernels, and is slower).
   */
  kernels?: boolean;
}

export interface BackendInfo {
  backend: "wasm";
  simd: boolean;
  threads: boolean;
}

let initialising: Promise<BackendInfo> | null = null;

/**
 * Initialise the WASM backend once (later calls return the first call's promise, whatever their options).
 * It sets tfjs's backend to "wasm" and, unless `kernels: false`, registers this project's kernels for it:
 * both are process-wide, for every tfjs user in the process (see BackendOptions.kernels).
 */
export function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  if (!initialising) {
    initialising = start(options).catch((err: unknown) => {
      initialising = null; // let the caller fix the paths and try again
      throw err;
    });
  }
  return initialising;
}

async function start(options: BackendOptions): Promise<BackendInfo> {
  if (options.wasmPaths !== undefined) {
    // usePlatformFetch=false: the bundler's URLs are fetched by the emscripten loader itself
    setWasmPaths(options.wasmPaths as string);
  }
  if (options.simd === false) tf.env().set("WASM_HAS_SIMD_SUPPORT", false);
  let ok = false;
  let cause: unknown;
  try {
    ok = await tf.setBackend("wasm");
    await tf.ready();
  } catch (err) {
    cause = err;
  }
  if (!ok || tf.getBackend() !== "wasm") {
    const where =
      options.wasmPaths === undefined
        ? "the @tensorflow/tfjs-backend-wasm package (is it installed?)"
        : JSON.stringify(options.wasmPaths);
    throw new Error(
      `could not start the tfjs WASM backend: its .wasm files (tfjs-backend-wasm.wasm, tfjs-backend-wasm-simd.wasm) ` +
        `were not found or failed to load from ${where}. After bundling, pass initBackend({ wasmPaths: "<url prefix>/" }). ` +
        `Refusing to fall back to the slow cpu backend.` +
        (cause instanceof Error ? ` Cause: ${cause.message}` : ""),
    );
  }
  if (options.kernels !== false) {
    await compileKernels(options.kernelModules); // asynchronously: browsers may refuse a synchronous compile of this size
    registerTrainingKernels();
  }
  return backendInfo();
}

/** What the running backend supports; throws if initBackend() has not completed. */
export function backendInfo(): BackendInfo {
  assertWasmBackend();
  return {
    backend: "wasm",
    simd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT"),
    threads: tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT"),
  };
}

/** Guard for code paths that must never run on another backend. */
export function assertWasmBackend(): void {
  if (tf.getBackend() !== "wasm") {
    throw new Error(`tfjs is running on "${tf.getBackend()}", not "wasm": await initBackend() first`);
  }
}

export { tf };
