// The Deno and Bun entry. `core`: print the core check as one JSON line. `serve`: start the app over tfjs
// models on the WASM backend on a free loopback port, print "backend <backendInfo() as JSON>" and then
// "listening on <url>" (or "error: ..." and exit 1).
import { loadCore } from "../../../src/index.js";
import { tfjsApp } from "./app-check.js";
import { runCoreCheck } from "./core-check.js";

interface Runtime {
  args: string[];
  exit(code: number): never;
  serve(fetch: (request: Request) => Response | Promise<Response>): Promise<string>;
}

function runtime(): Runtime {
  const g = globalThis as unknown as {
    Deno?: { args: string[]; exit(code: number): never; serve(options: object, fetch: unknown): unknown };
    Bun?: { argv: string[]; serve(options: object): { port: number } };
    process: { exit(code: number): never };
  };
  if (g.Deno) {
    const deno = g.Deno;
    return {
      args: deno.args,
      exit: (code) => deno.exit(code),
      serve: (fetch) =>
        new Promise((resolve) => deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }: { port: number }) => resolve(`http://127.0.0.1:${port}`) }, fetch)),
    };
  }
  if (g.Bun) {
    const bun = g.Bun;
    return {
      args: bun.argv.slice(2),
      exit: (code) => g.process.exit(code),
      serve: async (fetch) => `http://127.0.0.1:${bun.serve({ hostname: "127.0.0.1", port: 0, fetch }).port}`,
    };
  }
  throw new Error("run this under deno or bun");
}

const rt = runtime();
const mode = rt.args[0];
try {
  const core = await loadCore();
  if (mode === "core") {
    console.log(JSON.stringify(await runCoreCheck(core)));
    rt.exit(0);
  } else if (mode === "serve") {
    const { app, backend } = await tfjsApp(core);
    console.log(`backend ${JSON.stringify(backend)}`);
    console.log(`listening on ${await rt.serve(app.fetch)}`);
  } else throw new Error(`unknown mode ${mode}: core or serve`);
} catch (e) {
  console.log(`error: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : JSON.stringify(e)}`);
  rt.exit(1);
}
