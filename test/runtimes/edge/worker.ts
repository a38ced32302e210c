// The workerd worker. The core comes from the precompiled module workerd makes of core.wasm. Routes:
//   GET /core                 the core check
//   /v1/*, /healthz           the app, its models in plain JavaScript
//   GET /core-from-bytes      probe: loadCore() compiling the embedded bytes
//   GET /tfjs[?web=1]         probe: tfjs' WASM backend starting as it is (?web=1: with workerd's `process` hidden)
//   /tfjs-from-module/*       the app over tfjs models, the backend started from a precompiled module (the shim)
//                             and the training kernels from theirs (initBackend's kernelModules);
//                             tfjs does not start after a failed start, so ask an isolate that ran no /tfjs probe
import coreModule from "prediction-poisoning/core.wasm";
import tfjsSimdModule from "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm";
import kernelsModule from "prediction-poisoning/kernels.wasm";
import kernelsSharedModule from "prediction-poisoning/kernels-shared.wasm";
import { loadCore, type Core } from "../../../src/index.js";
import { plainApp, tfjsApp } from "./app-check.js";
import { runCoreCheck } from "./core-check.js";
import { startTfjsFromModule } from "./workerd-tfjs-shim.js";

let core: Promise<Core> | undefined;
let app: ReturnType<typeof plainApp> | undefined;
let tfjsFromModule: ReturnType<typeof tfjsApp> | undefined;

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const describeError = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : ((e as { message?: string })?.message ?? String(e)));

async function probeCoreFromBytes(): Promise<Response> {
  try {
    await loadCore();
    return json({ started: true });
  } catch (e) {
    return json({ started: false, error: describeError(e) });
  }
}

async function probeTfjs(core: Core, web: boolean): Promise<Response> {
  // emscripten decides it runs in Node from `typeof process.versions.node`, which workerd defines
  if (web) Reflect.deleteProperty(globalThis, "process");
  // tfjs logs why a backend failed to start (and returns false) rather than throwing: keep what it logs
  const logs: string[] = [];
  const { warn, error } = console;
  console.warn = console.error = (...args: unknown[]) => void logs.push(args.map(String).join(" "));
  try {
    await tfjsApp(core, web ? { wasmPaths: "http://tfjs-wasm/" } : {});
    return json({ started: true, logs });
  } catch (e) {
    return json({ started: false, error: describeError(e), logs });
  } finally {
    Object.assign(console, { warn, error });
  }
}

async function serveTfjsFromModule(core: Core, request: Request, path: string): Promise<Response> {
  // The project's training kernels precompiled too: workerd compiles no WASM from bytes.
  tfjsFromModule ??= (startTfjsFromModule(tfjsSimdModule), tfjsApp(core, { kernelModules: { plain: kernelsModule, shared: kernelsSharedModule } }));
  let started: Awaited<typeof tfjsFromModule>;
  try {
    started = await tfjsFromModule;
  } catch (e) {
    return json({ error: describeError(e) }, 500);
  }
  const answer = await started.app.fetch(new Request(new URL(path, request.url), request));
  const headers = new Headers(answer.headers);
  headers.set("x-tfjs-backend", JSON.stringify(started.backend));
  return new Response(answer.body, { status: answer.status, headers });
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const ready = await (core ??= loadCore(coreModule));
    if (url.pathname === "/core") return json(await runCoreCheck(ready));
    if (url.pathname === "/core-from-bytes") return probeCoreFromBytes();
    if (url.pathname === "/tfjs") return probeTfjs(ready, url.searchParams.has("web"));
    if (url.pathname.startsWith("/tfjs-from-module/")) return serveTfjsFromModule(ready, request, url.pathname.slice("/tfjs-from-module".length));
    app ??= plainApp(ready);
    return app.fetch(request);
  },
};
