// Builds the browser ESM bundle and the demo page into dist/browser/:
//   prediction-poisoning.js  the library (core, models, defenses) as one ES module
//   demo.bundle.js           the demo page, importing the library bundle above
//   index.html, demo.css     the page shell
//   core.wasm                the MAD core (copied from build/core.wasm)
//   tfjs-backend-wasm*.wasm  tfjs' WASM backend binaries (plain, SIMD, threaded SIMD)
//   build-info.json          what went in, so callers can tell a stale bundle from a fresh one
// Usage: node scripts/build-browser.mjs [--if-stale] [--quiet]
// Also importable: `buildBrowser()` and `browserBundleStale()` (the serve --demo path and the e2e test use them).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { execFileSync } from "node:child_process";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const outDir = join(root, "dist", "browser");
const pageDir = join(root, "src", "browser");
const tfjsWasmDir = join(root, "node_modules", "@tensorflow", "tfjs-backend-wasm", "dist");
export const tfjsWasmFiles = ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"];
/** Files the bundle is made from: a change to any of them makes dist/browser stale. */
const sourceDirs = ["src/browser", "src/core", "src/models", "src/defenses"].map((d) => join(root, d));
const requiredOutputs = ["index.html", "demo.css", "prediction-poisoning.js", "demo.bundle.js", "core.wasm", ...tfjsWasmFiles];

function newestMtime(paths) {
  let newest = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const f of readdirSync(p, { recursive: true })) {
        const full = join(p, String(f));
        if (statSync(full).isFile()) newest = Math.max(newest, statSync(full).mtimeMs);
      }
    } else newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

/** Why dist/browser needs a (re)build, or null when it is complete and newer than its sources. */
export function browserBundleStale() {
  const missing = requiredOutputs.filter((f) => !existsSync(join(outDir, f)));
  if (missing.length) return `missing ${missing.join(", ")}`;
  const builtAt = statSync(join(outDir, "build-info.json"), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (newestMtime([...sourceDirs, join(root, "build", "core.wasm")]) > builtAt) return "sources changed since the last build";
  return null;
}

/** The AssemblyScript core must exist before it can be copied; build it the way `npm test` does. */
function ensureCoreWasm() {
  const wasm = join(root, "build", "core.wasm");
  execFileSync(process.execPath, [join(root, "scripts", "ensure-built.mjs")], { cwd: root, stdio: "inherit" });
  if (!existsSync(wasm)) throw new Error(`build/core.wasm is missing after \`npm run build:wasm\`; the browser bundle needs it`);
  return wasm;
}

/** Marks imports of the page's `./library.js` as the separately built library bundle. */
const libraryAsExternal = {
  name: "library-as-external",
  setup(build) {
    build.onResolve({ filter: /^\.\/library\.js$/ }, (args) =>
      args.importer.startsWith(pageDir) ? { path: "./prediction-poisoning.js", external: true } : undefined,
    );
  },
};

export async function buildBrowser({ quiet = false } = {}) {
  const started = Date.now();
  const { build } = await import("esbuild");
  mkdirSync(outDir, { recursive: true });
  const coreWasm = ensureCoreWasm();
  const common = {
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    minify: true,
    sourcemap: true,
    legalComments: "linked",
    logLevel: quiet ? "error" : "warning",
    // tfjs reads process.env.NODE_ENV in a few places; a browser has no `process`.
    define: { "process.env.NODE_ENV": '"production"' },
  };
  await build({ ...common, entryPoints: { "prediction-poisoning": join(pageDir, "library.ts") }, outdir: outDir });
  await build({ ...common, entryPoints: { "demo.bundle": join(pageDir, "demo.ts") }, outdir: outDir, plugins: [libraryAsExternal] });
  for (const f of ["index.html", "demo.css"]) copyFileSync(join(pageDir, f), join(outDir, f));
  copyFileSync(coreWasm, join(outDir, "core.wasm"));
  for (const f of tfjsWasmFiles) {
    const src = join(tfjsWasmDir, f);
    if (!existsSync(src)) throw new Error(`${relative(root, src)} is missing: run npm ci`);
    copyFileSync(src, join(outDir, f));
  }
  const files = Object.fromEntries(
    readdirSync(outDir)
      .filter((f) => !f.endsWith(".map") && f !== "build-info.json")
      .map((f) => [f, statSync(join(outDir, f)).size]),
  );
  const tfjsVersion = JSON.parse(readFileSync(join(tfjsWasmDir, "..", "package.json"), "utf8")).version;
  writeFileSync(join(outDir, "build-info.json"), JSON.stringify({ builtAt: new Date().toISOString(), tfjsVersion, files }, null, 2) + "\n");
  if (!quiet) {
    const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
    console.log(`dist/browser built in ${((Date.now() - started) / 1000).toFixed(1)} s:`);
    for (const [f, size] of Object.entries(files)) console.log(`  ${f.padEnd(40)} ${kb(size)}`);
  }
  return { outDir, files };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const ifStale = process.argv.includes("--if-stale");
  const quiet = process.argv.includes("--quiet");
  const why = browserBundleStale();
  if (ifStale && !why) {
    if (!quiet) console.log("dist/browser is up to date");
  } else {
    try {
      await buildBrowser({ quiet });
    } catch (err) {
      console.error(`browser bundle build failed: ${err instanceof Error ? err.message : err}`);
      process.exit(1);
    }
  }
}
