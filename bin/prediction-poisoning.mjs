#!/usr/bin/env node
// The `prediction-poisoning` command (package.json "bin"). An installed package runs the compiled CLI,
// dist/cli/index.js. A clone runs it too once `npm run build` has made it and no file under src/ is
// newer; otherwise (a fresh clone after `npm ci`, or sources edited since the build) it makes sure the
// generated WASM modules exist (scripts/ensure-built.mjs) and runs src/cli/index.ts through tsx
// (a devDependency, which clones have).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist/cli/index.js");
const source = join(root, "src/cli/index.ts");

/** Newest modification time of the files under dir (0 when there is none). */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return latest;
}

const distFresh = existsSync(dist) && (!existsSync(source) || statSync(dist).mtimeMs >= newest(join(root, "src")));

if (distFresh) {
  await import(pathToFileURL(dist).href);
} else if (!existsSync(source)) {
  console.error(`error: ${dist} is missing (run \`npm run build\`)`);
  process.exit(1);
} else {
  const ensureBuilt = join(root, "scripts/ensure-built.mjs");
  if (existsSync(ensureBuilt)) await import(pathToFileURL(ensureBuilt).href);
  let tsx;
  try {
    tsx = import.meta.resolve("tsx");
  } catch {
    console.error("error: dist/cli/index.js is missing or older than src/, and tsx is not installed to run the sources: run `npm ci` (or `npm run build`)");
    process.exit(1);
  }
  const child = spawn(process.execPath, [...process.execArgv, "--import", tsx, source, ...process.argv.slice(2)], { stdio: "inherit" });
  // The child gets the terminal's signals itself; forward those sent to this process only (kill, systemd).
  const forward = (signal) => child.kill(signal);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, forward);
  child.on("error", (err) => {
    console.error(`error: cannot start node: ${err.message}`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    if (signal) {
      for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.off(s, forward);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}
