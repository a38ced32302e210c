// Starts a throwaway redis-server on a free loopback port for a test file (no persistence), or
// returns null when it is not installed (.ci/run installs it) or PP_TEST_NO_REDIS=1. Tests that need it
// register with needs("redis-server", test) from test/tools.ts, so they count as skipped, not passed.
// With `dir`, it keeps an append-only file there (fsync on every write), so a server killed with kill() and
// started again with the same `dir` and `port` comes back with every write it acknowledged.
import { spawn } from "node:child_process";
import { createServer, connect } from "node:net";
import { toolAvailable } from "../tools.js";

export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** SIGKILL, as a crash: no shutdown save. */
  kill(): Promise<void>;
}

export interface TestRedisOptions {
  /** Persist to an append-only file in this directory (appendfsync always). */
  readonly dir?: string;
  /** Listen on this port (e.g. to restart a killed server where its clients expect it); default a free one. */
  readonly port?: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    sock.once("error", () => resolve(false));
    sock.once("connect", () => sock.write("PING\r\n"));
    sock.once("data", (d) => {
      sock.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
  });
}

export function redisAvailable(): boolean {
  return toolAvailable("redis-server");
}

export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis | null> {
  if (!redisAvailable()) return null;
  const port = options.port ?? (await freePort());
  const persistence = options.dir ? ["--dir", options.dir, "--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence], {
    stdio: "ignore",
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (let i = 0; i < 100; i++) {
    if (await pingOnce(port)) {
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          await exited;
        },
        kill: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          await exited;
        },
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server did not answer on port ${port}`);
}
