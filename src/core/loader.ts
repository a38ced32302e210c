// Loads build/core.wasm from whatever the runtime can provide: the embedded bytes (default: Node,
// browsers, bundlers), a precompiled WebAssembly.Module (edge runtimes that forbid compiling bytes),
// raw bytes, or a URL (fetched; streamed when served as application/wasm). No `node:` imports here.
import { readCodes, type CoreExports } from "./exports.js";
import { ScratchArena } from "./memory.js";
import { WasmPerturber } from "./perturber.js";
import { Projections } from "./projections.js";
import type { PerturbOptions, Perturber } from "./types.js";
import { DEFAULT_EXACT_ARGMAX_LIMIT, MAX_EXACT_ARGMAX_LIMIT } from "./validation.js";

export type CoreSource = WebAssembly.Module | BufferSource | URL | string;

export interface Core {
  /** Validates the options (CoreInputError) and returns a perturber bound to this instance. */
  createPerturber(options: PerturbOptions): Perturber;
  projectOntoSimplex(v: Float64Array): Float64Array;
  projectOntoL1Ball(v: Float64Array, center: Float64Array, radius: number): Float64Array;
  projectOntoL2Ball(v: Float64Array, center: Float64Array, radius: number): Float64Array;
  /** The instance itself, for other kernels compiled into the same module (they share `scratch`). */
  readonly wasm: { instance: WebAssembly.Instance; memory: WebAssembly.Memory; scratch: ScratchArena };
}

export async function loadCore(source?: CoreSource): Promise<Core> {
  const module = await compileCore(source);
  const instance = await WebAssembly.instantiate(module, {
    env: {
      abort(message: number, file: number, line: number, column: number): never {
        throw new Error(`WASM core aborted at ${line}:${column} (message @${message}, file @${file})`);
      },
    },
  });
  return createCore(instance);
}

async function compileCore(source: CoreSource | undefined): Promise<WebAssembly.Module> {
  if (source === undefined) {
    const { coreWasmBase64 } = await import("./generated/core-wasm.js");
    return WebAssembly.compile(decodeBase64(coreWasmBase64));
  }
  if (source instanceof WebAssembly.Module) return source;
  if (typeof source === "string" || source instanceof URL) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`cannot fetch the WASM core from ${String(source)}: HTTP ${response.status}`);
    const type = response.headers.get("content-type") ?? "";
    if (typeof WebAssembly.compileStreaming === "function" && type.startsWith("application/wasm"))
      return WebAssembly.compileStreaming(response);
    return WebAssembly.compile(await response.arrayBuffer());
  }
  if (ArrayBuffer.isView(source) || source instanceof ArrayBuffer) return WebAssembly.compile(source);
  throw new TypeError("loadCore: source must be a WebAssembly.Module, bytes (ArrayBuffer or a view) or a URL");
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The exact-search limits are module constants on the TypeScript side too (defense parameters use them): they must agree. */
function checkArgmaxLimits(moduleExports: WebAssembly.Exports): void {
  for (const [name, expected] of [["EXACT_ARGMAX_LIMIT", DEFAULT_EXACT_ARGMAX_LIMIT], ["MAX_EXACT_ARGMAX_LIMIT", MAX_EXACT_ARGMAX_LIMIT]] as const) {
    const global = moduleExports[name];
    if (!(global instanceof WebAssembly.Global) || Number(global.value) !== expected)
      throw new Error(`core.wasm's ${name} is not ${expected} (src/core/validation.ts): a core build that does not match this package`);
  }
}

function createCore(instance: WebAssembly.Instance): Core {
  readCodes(instance.exports);
  checkArgmaxLimits(instance.exports);
  const wasm = instance.exports as unknown as CoreExports;
  const scratch = new ScratchArena({ memory: wasm.memory, ensure: (bytes) => wasm.ensureMemory(bytes) === 1 }, wasm.heapBase());
  const projections = new Projections(wasm, scratch);
  return {
    createPerturber: (options) => new WasmPerturber(wasm, scratch, options),
    projectOntoSimplex: (v) => projections.projectOntoSimplex(v),
    projectOntoL1Ball: (v, c, r) => projections.projectOntoL1Ball(v, c, r),
    projectOntoL2Ball: (v, c, r) => projections.projectOntoL2Ball(v, c, r),
    wasm: { instance, memory: wasm.memory, scratch },
  };
}
