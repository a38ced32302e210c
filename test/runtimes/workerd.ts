// workerd for the tests: the edge worker (test/runtimes/edge/worker.ts) bundled by esbuild into one ES module,
// the .wasm files it imports (the core's, tfjs' SIMD one) beside it as `wasm` modules (workerd compiles them
// as it loads the worker, which receives WebAssembly.Modules), a capnp config, all in a temp dir, served on
// free loopback ports.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { runtimeBinary } from "../tools.js";
import { fetchWithin, freePort, start, type Started } from "./child.js";

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** The compatibility date the worker declares: the workerd release's own (`workerd --version` prints "workerd 2026-11-17"). */
export function compatibilityDate(): string {
  const version = spawnSync(runtimeBinary("workerd"), ["--version"], { encoding: "utf8", timeout: 20_000 }).stdout ?? "";
  const date = /\d{4}-\d{2}-\d{2}/.exec(version)?.[0];
  if (!date) throw new Error(`workerd --version printed no date: ${JSON.stringify(version)}`);
  return date;
}

const config = (port: number, secondPort: number, wasm: readonly string[], tfjsWasmDir: string, date: string) => `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # the same worker in an isolate of its own, where tfjs has not failed to start before
    (name = "second", worker = .worker),
    # the only place the worker's fetch() reaches: tfjs' .wasm files, for the probe of its backend
    (name = "tfjs-wasm", disk = (path = ${JSON.stringify(tfjsWasmDir)})),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:${port}", http = (), service = "main"),
    (name = "second", address = "127.0.0.1:${secondPort}", http = (), service = "second"),
  ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
${wasm.map((name) => `    (name = "${name}", wasm = embed "${name}"),\n`).join("")}  ],
  compatibilityDate = "${date}",
  globalOutbound = "tfjs-wasm",
);
`;

/**
 * Each `.wasm` import, resolved as the bundler resolves packages (exports maps included), is copied beside the
 * bundle and imported from there: workerd loads it as a `wasm` module. Returns the copied files' names.
 */
function wasmModules(outDir: string, names: string[]): Plugin {
  return {
    name: "wasm-modules",
    setup(b) {
      b.onResolve({ filter: /\.wasm$/ }, async (args) => {
        if (args.pluginData === "wasm-modules") return undefined;
        const found = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: "wasm-modules" });
        if (found.errors.length) return { errors: found.errors };
        const name = basename(found.path);
        copyFileSync(found.path, join(outDir, name));
        if (!names.includes(name)) names.push(name);
        return { path: `./${name}`, external: true };
      });
    },
  };
}

/** Bundles the worker the way a user's build would: ESM for the browser-like worker platform, .wasm imports as wasm modules. */
export async function bundleWorker(outDir: string): Promise<string[]> {
  const wasm: string[] = [];
  await build({
    entryPoints: [repo("test/runtimes/edge/worker.ts")],
    outfile: join(outDir, "worker.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    plugins: [wasmModules(outDir, wasm)],
    // tfjs reads process.env.NODE_ENV; a worker has no build-time environment
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "error",
  });
  return wasm;
}

export interface Workerd {
  readonly url: string;
  /** The same worker in a second isolate. */
  readonly secondUrl: string;
  readonly process: Started;
  stop(): Promise<void>;
}

/** Bundles, writes the config, starts `workerd serve` and waits until the worker answers GET /healthz. */
export async function startWorkerd(deadlineMs: number): Promise<Workerd> {
  const dir = mkdtempSync(join(tmpdir(), "pp-workerd-"));
  try {
    const wasm = await bundleWorker(dir);
    const port = await freePort();
    let secondPort = await freePort();
    while (secondPort === port) secondPort = await freePort();
    writeFileSync(join(dir, "config.capnp"), config(port, secondPort, wasm, repo("node_modules/@tensorflow/tfjs-backend-wasm/dist"), compatibilityDate()));
    const p = start(runtimeBinary("workerd"), ["serve", "config.capnp"], { cwd: dir, deadlineMs });
    const url = `http://127.0.0.1:${port}`;
    const stop = async () => (await p.stop(), rmSync(dir, { recursive: true, force: true }));
    const until = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetchWithin(`${url}/healthz`, {}, 5_000)).ok) return { url, secondUrl: `http://127.0.0.1:${secondPort}`, process: p, stop };
      } catch {
        // not listening yet
      }
      if (p.child.exitCode !== null || p.child.signalCode !== null || Date.now() > until) {
        await stop();
        throw new Error(`workerd did not answer GET /healthz within 30 s; its output:\n${p.output()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
