// Rebuild the WASM core when it is missing or older than any AssemblyScript source.
import { existsSync, readdirSync, statSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const wasm = "build/core.wasm";
const newestSource = readdirSync("assembly", { recursive: true })
  .filter((f) => String(f).endsWith(".ts"))
  .map((f) => statSync(join("assembly", String(f))).mtimeMs)
  .reduce((a, b) => Math.max(a, b), 0);
if (!existsSync(wasm) || statSync(wasm).mtimeMs < newestSource) {
  console.error("building the WASM core (npm run build:wasm)");
  execFileSync("npm", ["run", "--silent", "build:wasm"], { stdio: "inherit" });
}
