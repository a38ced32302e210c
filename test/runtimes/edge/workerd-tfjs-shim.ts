// Starts tfjs' WASM backend in workerd from a precompiled module. tfjs-backend-wasm (4.22) fetches its .wasm
// and compiles the bytes (WebAssembly.instantiate(bytes)), which workerd forbids, and its emscripten loader
// takes workerd for Node (workerd defines process.versions.node). This works around both, relying on those
// internals: call it once, before initBackend(), with the module workerd makes of tfjs-backend-wasm-simd.wasm.
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

const placeholder = "https://tfjs-backend-wasm.invalid/tfjs-backend-wasm.wasm";

export function startTfjsFromModule(module: WebAssembly.Module): void {
  // emscripten's Node test; without `process` it uses the instantiateWasm hook below and nothing else
  Reflect.deleteProperty(globalThis, "process");
  // usePlatformFetch: tfjs installs emscripten's instantiateWasm hook, which fetches this URL then instantiates the bytes
  const names = ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"];
  setWasmPaths(Object.fromEntries(names.map((name) => [name, placeholder])), true);
  const fetch = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) =>
    String(input instanceof Request ? input.url : input) === placeholder ? Promise.resolve(new Response(new ArrayBuffer(0))) : fetch(input, init)) as typeof fetch;
  const instantiate = WebAssembly.instantiate;
  // the (empty) bytes fetched above stand for the precompiled module
  WebAssembly.instantiate = ((source: unknown, imports?: WebAssembly.Imports) =>
    source instanceof ArrayBuffer && source.byteLength === 0
      ? instantiate(module, imports).then((instance) => ({ instance, module }))
      : instantiate(source as BufferSource, imports)) as typeof WebAssembly.instantiate;
}
