// `prediction-poisoning bench [suite...]`: runs the benchmark suites of bench/ exactly like
// `npm run bench` (prints the table, merges bench/results.json). Needs a source checkout: bench/ is not
// part of the published package.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";

/** The checkout's root: the nearest folder above this file whose package.json is this package. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "prediction-poisoning") return dir;
    if (dirname(dir) === dir) throw new Error("cannot find the prediction-poisoning package root above " + from);
  }
}

export function benchSuites(root = packageRoot()): string[] {
  const dir = join(root, "bench");
  if (!existsSync(join(dir, "run.ts"))) throw new Error(`no bench/run.ts under ${root}: benchmarks need a source checkout`);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
    .map((f) => f.slice(0, -3))
    .sort();
}

export const benchCommand = new Command("bench")
  .description("run benchmark suites (all, or the named ones), print a table and merge bench/results.json; same as `npm run bench`")
  .argument("[suites...]", "suite names (files in bench/ without .ts)")
  .option("--list", "list the suites and exit")
  .action(async (suites: string[], options: { list?: boolean }, command: Command) => {
    const root = packageRoot();
    const available = benchSuites(root);
    if (options.list) {
      console.log(available.join("\n"));
      return;
    }
    const unknown = suites.filter((s) => !available.includes(s));
    if (unknown.length) {
      command.error(`error: unknown bench suite(s): ${unknown.join(", ")}; available: ${available.join(", ")}`, { exitCode: 2 });
    }
    const run = (args: string[]) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit" });
        child.on("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
      });
    // Like `npm run bench`'s prebench step: rebuild the WASM core when its sources changed.
    const ensureBuilt = join(root, "scripts", "ensure-built.mjs");
    if (existsSync(ensureBuilt) && (await run([ensureBuilt])) !== 0) throw new Error("building the WASM core failed");
    const code = await run(["--import", "tsx", join(root, "bench", "run.ts"), ...suites]);
    if (code !== 0) throw new Error(`bench exited with code ${code}`);
  });
