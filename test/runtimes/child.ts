// Child processes of the runtime tests: each is killed when its deadline passes (a hung runtime fails its
// test instead of hanging the suite) and by stopAll() in the test's cleanup, whatever happened.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

const running = new Set<ChildProcess>();

export interface Started {
  readonly child: ChildProcess;
  stdout(): string;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  /** Resolves with the first match of `pattern` in stdout; rejects when the process exits or the deadline passes first. */
  waitFor(pattern: RegExp, ms: number): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

export function start(command: string, args: readonly string[], options: { cwd?: string; deadlineMs: number }): Started {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let stdout = "";
  let all = "";
  child.stdout!.on("data", (d) => ((stdout += d), (all += d)));
  child.stderr!.on("data", (d) => (all += d));
  child.on("error", (e) => (all += `\ncould not start ${command}: ${e.message}\n`));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const killer = setTimeout(() => child.kill("SIGKILL"), options.deadlineMs);
  exited.then(() => (clearTimeout(killer), running.delete(child)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  const waitFor = (pattern: RegExp, ms: number) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const fail = (why: string) => reject(new Error(`${command} ${args.join(" ")}: ${why}; its output:\n${all}`));
      const timer = setTimeout(() => fail(`no ${pattern} within ${ms} ms`), ms);
      const check = () => {
        const m = pattern.exec(stdout);
        if (m) (clearTimeout(timer), child.stdout!.off("data", check), resolve(m));
      };
      child.stdout!.on("data", check);
      exited.then(() => (clearTimeout(timer), pattern.exec(stdout) ? check() : fail(`exited (code ${child.exitCode}, signal ${child.signalCode})`)));
      check();
    });
  return { child, stdout: () => stdout, output: () => all, waitFor, stop };
}

/** Runs to the end and resolves with its stdout; rejects on a non-zero exit or past the deadline (killed). */
export async function run(command: string, args: readonly string[], options: { cwd?: string; deadlineMs: number }): Promise<string> {
  const p = start(command, args, options);
  const code = await new Promise<number | null>((resolve) => p.child.once("close", (c) => resolve(c)));
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code ?? p.child.signalCode} (deadline ${options.deadlineMs} ms); its output:\n${p.output()}`);
  return p.stdout();
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => (c.kill("SIGKILL"), new Promise((r) => c.once("close", r)))));
}

/** A loopback port free right now (the OS picks it; the runtime binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** fetch with a deadline, so a runtime that accepts but never answers fails the test. */
export const fetchWithin = (url: string, init: RequestInit = {}, ms = 20_000) => fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
