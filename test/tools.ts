// The system tools some tests need and npm does not bring: redis-server, Chromium (driven by
// playwright-core) and the Debian Fashion-MNIST files (.ci/run installs all three), and the edge runtimes
// workerd, deno and bun (npm devDependencies whose binaries come from per-platform packages, so a
// platform without a build, or an install without optional dependencies, lacks them). A test file decides
// at module load, synchronously, whether each is there; a test that needs a missing one registers with
// uvu's test.skip, so test/run.mjs counts it as skipped, never as passed, and the reason is printed once
// per file as a "SKIP: ..." line (run.mjs shows it under the file).
//
//   const run = needs("redis-server", test);
//   run("two replicas share one budget", async () => { ... });
//
// To see the skip path on a machine that has the tools, pretend one is missing:
//   PP_TEST_NO_REDIS=1 node test/run.mjs redis
//   PP_TEST_NO_CHROMIUM=1 node test/run.mjs demo-page
//   PP_TEST_NO_FASHION_MNIST=1 node test/run.mjs datasets
//   PP_TEST_NO_PYTHON=1 node test/run.mjs serve-upstream   (python3 runs the sidecar tests' upstream model servers)
//   PP_TEST_NO_WORKERD=1 (PP_TEST_NO_DENO=1, PP_TEST_NO_BUN=1) node test/run.mjs runtimes
// CHROMIUM_PATH and FASHION_MNIST_DIR point the checks at another Chromium binary or data directory.
// PP_TEST_REQUIRE_TOOLS=1 turns a missing tool into failures instead of skips (.ci/run sets it: it
// installs the tools, so a skip there would hide a broken install).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Callback, Test } from "uvu";
import { fashionMnistAvailable, fashionMnistDir } from "../src/node/fashion-mnist.js";

export type Tool = "redis-server" | "chromium" | "fashion-mnist" | "python3" | EdgeRuntime;
export type EdgeRuntime = "workerd" | "deno" | "bun";

/** The Chromium binary the browser tests drive. */
export const chromiumPath = (): string => process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** The runtime's binary: the npm devDependency's in node_modules/.bin, else the one on PATH. */
export function runtimeBinary(runtime: EdgeRuntime): string {
  const local = fileURLToPath(new URL(`../node_modules/.bin/${runtime}`, import.meta.url));
  return existsSync(local) ? local : runtime;
}

function runtimeMissing(runtime: EdgeRuntime): string | null {
  const ok = spawnSync(runtimeBinary(runtime), ["--version"], { stdio: "ignore", timeout: 20_000 }).status === 0;
  return ok ? null : `not found or not runnable (node_modules/.bin/${runtime} or on PATH: npm ci installs it where the platform has a build)`;
}

const pretend = (variable: string): string | null => (process.env[variable] === "1" ? `${variable}=1 pretends it is missing` : null);

function check(tool: Tool): string | null {
  switch (tool) {
    case "redis-server":
      return (
        pretend("PP_TEST_NO_REDIS") ??
        (spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0 ? null : "not installed (apt-get install redis-server)")
      );
    case "chromium":
      return pretend("PP_TEST_NO_CHROMIUM") ?? (existsSync(chromiumPath()) ? null : `not found at ${chromiumPath()} (apt-get install chromium, or set CHROMIUM_PATH)`);
    case "fashion-mnist":
      return (
        pretend("PP_TEST_NO_FASHION_MNIST") ??
        (fashionMnistAvailable() ? null : `not in ${fashionMnistDir()} (apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR)`)
      );
    case "python3":
      return pretend("PP_TEST_NO_PYTHON") ?? (spawnSync("python3", ["--version"], { stdio: "ignore" }).status === 0 ? null : "not installed (apt-get install python3)");
    case "workerd":
    case "deno":
    case "bun":
      return pretend(`PP_TEST_NO_${tool.toUpperCase()}`) ?? runtimeMissing(tool);
  }
}

const checked = new Map<Tool, string | null>();

/** Why `tool` is missing, or null when it is there (checked once per process). */
export function whyMissing(tool: Tool): string | null {
  if (!checked.has(tool)) checked.set(tool, check(tool));
  return checked.get(tool)!;
}

export const toolAvailable = (tool: Tool): boolean => whyMissing(tool) === null;

const announced = new Set<Tool>();

/**
 * `test` when `tool` is there; otherwise uvu's `test.skip`, after printing the reason (once per file).
 * With PP_TEST_REQUIRE_TOOLS=1 a missing tool makes each such test fail with the reason instead.
 */
export function needs<T>(tool: Tool, test: Test<T>): (name: string, fn: Callback<T>) => void {
  const reason = whyMissing(tool);
  if (reason === null) return test;
  if (process.env.PP_TEST_REQUIRE_TOOLS === "1") {
    return (name) =>
      test(name, () => {
        throw new Error(`${tool} ${reason} (PP_TEST_REQUIRE_TOOLS=1)`);
      });
  }
  if (!announced.has(tool)) {
    announced.add(tool);
    console.log(`SKIP: ${tool} ${reason}`);
  }
  return (name, fn) => test.skip(name, fn);
}
