// `prediction-poisoning serve` as a child process for the CLI tests: resolves once it listens, with its
// URL and its output so far; `children` collects every process started, for the tests' cleanup.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";

export interface ServeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
}

export function startServe(args: readonly string[], children: ChildProcess[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ url: m[1], child, stdout: () => out, stderr: () => err });
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}
