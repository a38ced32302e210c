// PRADA detector states in Redis, shared by every replica (and so by every process behind a load
// balancer): a client's queries are judged together whichever replica answers them.
//
// One hash per client, <prefix>c:<sha256 hex of the API key> (keys are never stored in plaintext):
//   ver      a version number, +1 on every write
//   meta     the state without its arrays (JSON, PradaMeta)
//   d        every class's D_c, float32 little-endian, one after the other in meta's class order
//   g:<c>    class c's growing set, float32 little-endian (at most maxGrowing x dim values)
//   blocked  "1" once --on-detect block blocked the key
// and one sorted set <prefix>flagged of the (hashed) keys whose latest test alarmed or that are blocked (score: the
// time of the write; blocked: +inf), for the /metrics gauge.
//
// Atomicity: optimistic concurrency with a compare-and-set Lua script. An update reads ver, meta, d and
// the growing sets of the batch's classes (HMGET), runs the detector in JavaScript, and writes with one
// script that applies every field only if ver is still what it read (and bumps it); otherwise nothing is
// written and the update is read and run again (up to 25 times, with jittered back-off, then the request
// fails with 503: fail closed, like the budgets). A script runs atomically in Redis, so two replicas (or
// two processes, or two threads) can never interleave writes to one client's state or lose an update: the
// second writer sees a new ver and retries on the state that includes the first one's queries. It is the
// WATCH/MULTI/EXEC pattern without its per-connection state (WATCH is per connection, and this process
// multiplexes every request over one ioredis connection). Within one process, updates of the same key are
// also queued one after the other, so a process never conflicts with itself.
//
// Memory: at most K x (maxGrowing x dim + maxDistances) x 4 bytes per client (K classes); a client's hash
// expires `ttlSeconds` (default 30 days) after its last update. A blocked client's arrays are deleted and
// the rest (a few hundred bytes) kept without expiry, so the block holds until an operator deletes the hash.
import { Redis } from "ioredis";
import { newPradaState, pradaMeta, pradaStateFromMeta } from "../../defenses/prada.js";
import type { PradaMeta, PradaState, PradaStore } from "../../defenses/prada.js";
import { ServiceError } from "../errors.js";
import { connectRedis, hashApiKey, redisOutage } from "./redis-budgets.js";

// KEYS[1] state hash, KEYS[2] flagged zset.
// ARGV[1] expected ver ("" = no state yet), ARGV[2] ttl seconds (0 = none), ARGV[3] client, ARGV[4] flagged
// 1/0, ARGV[5] blocked 1/0, ARGV[6] reset 1/0 (drop every field first: a state of another input size),
// ARGV[7] n = fields to delete, ARGV[8 .. 7+n] those fields, then field/value pairs.
// Returns {1, flagged count} when written, {0, 0} on a version conflict.
const casScript = `
local cur = redis.call('HGET', KEYS[1], 'ver')
if (cur or '') ~= ARGV[1] then return {0, 0} end
local ver = (tonumber(cur) or 0) + 1
if ARGV[6] == '1' then redis.call('DEL', KEYS[1]) end
local ndel = tonumber(ARGV[7])
local first = 8 + ndel
if ndel > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 8, 7 + ndel)) end
if #ARGV >= first then redis.call('HSET', KEYS[1], unpack(ARGV, first, #ARGV)) end
redis.call('HSET', KEYS[1], 'ver', ver)
local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1])
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'blocked', '1')
  redis.call('PERSIST', KEYS[1])
  redis.call('ZADD', KEYS[2], '+inf', ARGV[3])
else
  if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
  if ARGV[4] == '1' then redis.call('ZADD', KEYS[2], now, ARGV[3]) else redis.call('ZREM', KEYS[2], ARGV[3]) end
end
if ttl > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - ttl)) end
return {1, redis.call('ZCARD', KEYS[2])}
`;

// KEYS[1] flagged zset; ARGV[1] ttl seconds. Flagged entries whose state expired are dropped first.
const countScript = `
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  local t = redis.call('TIME')
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(t[1]) - ttl))
end
return redis.call('ZCARD', KEYS[1])
`;

type PradaRedis = Redis & {
  ppPradaCas(hash: string, flagged: string, ...args: (string | Buffer | number)[]): Promise<[number, number]>;
  ppPradaCount(flagged: string, ttl: number): Promise<number>;
};

export interface RedisPradaOptions {
  /** redis://[user:pass@]host:port[/db] */
  readonly url: string;
  /** Key prefix. Default "pp:prada:". */
  readonly prefix?: string;
  /** A client's state expires this long after its last update. Default 30 days; 0 = never. */
  readonly ttlSeconds?: number;
  /** Most attempts of one update under write conflicts. Default 25. */
  readonly maxAttempts?: number;
}

export const DEFAULT_PRADA_TTL_SECONDS = 30 * 24 * 3600;

function floatsOf(buf: Buffer | null): Float32Array {
  if (!buf || buf.length === 0) return new Float32Array(0);
  const out = new Float32Array(buf.length >> 2);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function bytesOf(values: Float32Array, count: number): Buffer {
  const buf = Buffer.allocUnsafe(count * 4);
  for (let i = 0; i < count; i++) buf.writeFloatLE(values[i], i * 4);
  return buf;
}

export class RedisPradaStore implements PradaStore {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly prefix: string;
  private readonly ttl: number;
  private readonly maxAttempts: number;
  /** Write conflicts met (retried), for tests and diagnostics. */
  conflicts = 0;

  private constructor(
    private readonly redis: PradaRedis,
    private readonly limits: { maxGrowing: number; maxDistances: number },
    options: RedisPradaOptions,
  ) {
    this.prefix = options.prefix ?? "pp:prada:";
    this.ttl = options.ttlSeconds ?? DEFAULT_PRADA_TTL_SECONDS;
    this.maxAttempts = options.maxAttempts ?? 25;
  }

  /** Connects and checks the server answers. `limits` must be the detector's maxGrowing and maxDistances. */
  static async connect(options: RedisPradaOptions, limits: { maxGrowing: number; maxDistances: number }): Promise<RedisPradaStore> {
    const redis = (await connectRedis(options.url)) as PradaRedis;
    redis.defineCommand("ppPradaCas", { numberOfKeys: 2, lua: casScript });
    redis.defineCommand("ppPradaCount", { numberOfKeys: 1, lua: countScript });
    return new RedisPradaStore(redis, limits, options);
  }

  private hash(client: string): string {
    return `${this.prefix}c:${hashApiKey(client)}`;
  }

  private get flaggedKey(): string {
    return `${this.prefix}flagged`;
  }

  update<T>(client: string, dim: number, classes: ReadonlySet<number>, fn: (state: PradaState) => T): Promise<T> {
    // One update per key at a time in this process; other processes are handled by the version check.
    const previous = this.queues.get(client) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.attempt(client, dim, classes, fn));
    this.queues.set(client, run);
    void run.finally(() => {
      if (this.queues.get(client) === run) this.queues.delete(client);
    }).catch(() => {});
    return run;
  }

  private async attempt<T>(client: string, dim: number, classes: ReadonlySet<number>, fn: (state: PradaState) => T): Promise<T> {
    const hash = this.hash(client);
    const wanted = [...classes];
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      let reply: (Buffer | null)[];
      try {
        reply = await this.redis.hmgetBuffer(hash, "ver", "meta", "d", "blocked", ...wanted.map((c) => `g:${c}`));
      } catch {
        throw new ServiceError("unavailable", "the detector store (Redis) is unavailable; try again later");
      }
      const [verBuf, metaBuf, dBuf, blockedBuf, ...growingBufs] = reply;
      const ver = verBuf ? verBuf.toString() : "";
      let meta: PradaMeta | null = metaBuf ? (JSON.parse(metaBuf.toString()) as PradaMeta) : null;
      if (meta && (meta.v !== 1 || meta.dim !== dim)) meta = null; // another model's state: start over
      const loadedGrowing = new Map<number, Buffer | null>(wanted.map((c, i) => [c, growingBufs[i]]));
      let state: PradaState;
      const before = new Map<number, { added: number; recorded: number }>();
      if (meta) {
        const all = floatsOf(dBuf);
        let offset = 0;
        const slices = new Map<number, Float32Array>();
        for (const [c, , , , , , recorded] of meta.classes) {
          const n = Math.min(recorded, this.limits.maxDistances);
          slices.set(c, all.slice(offset, offset + n));
          offset += n;
        }
        state = pradaStateFromMeta(meta, (c) => ({
          distances: slices.get(c) ?? new Float32Array(0),
          growing: loadedGrowing.has(c) ? floatsOf(loadedGrowing.get(c) ?? null) : undefined,
        }));
        for (const [c, s] of state.classes) before.set(c, { added: s.added, recorded: s.recorded });
      } else {
        state = newPradaState(dim);
      }
      if (blockedBuf && blockedBuf.toString() === "1") state.blocked = true;
      const wasBlocked = state.blocked;
      const result = fn(state);
      if (wasBlocked) return result; // nothing changes for a blocked key

      const args: (string | Buffer | number)[] = [];
      const remove: string[] = [];
      const pairs: (string | Buffer)[] = ["meta", JSON.stringify(pradaMeta(state))];
      if (state.blocked) {
        // Queries of a blocked key are refused from now on: its arrays are of no further use.
        for (const c of state.classes.keys()) remove.push(`g:${c}`);
        remove.push("d");
      } else {
        let changed = !meta;
        const parts: Buffer[] = [];
        for (const [c, s] of state.classes) {
          const was = before.get(c);
          if (!was || was.recorded !== s.recorded) changed = true;
          parts.push(bytesOf(s.distances, Math.min(s.recorded, this.limits.maxDistances)));
          if ((!was || was.added !== s.added) && s.growing) {
            pairs.push(`g:${c}`, bytesOf(s.growing, Math.min(s.added, this.limits.maxGrowing) * dim));
          }
        }
        if (changed) pairs.push("d", Buffer.concat(parts));
      }
      const reset = !meta && ver !== "" ? 1 : 0; // a stored state of another input size: replaced whole
      args.push(ver, this.ttl, hashApiKey(client), state.alarm || state.blocked ? 1 : 0, state.blocked ? 1 : 0, reset, remove.length, ...remove, ...pairs);
      let written: [number, number];
      try {
        written = await this.redis.ppPradaCas(hash, this.flaggedKey, ...args);
      } catch {
        throw new ServiceError("unavailable", "the detector store (Redis) is unavailable; try again later");
      }
      if (written[0] === 1) return result;
      this.conflicts++;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw new ServiceError("unavailable", "the detector state of this API key is being updated by too many requests at once; try again");
  }

  async isBlocked(client: string): Promise<boolean> {
    try {
      return (await this.redis.hget(this.hash(client), "blocked")) === "1";
    } catch {
      throw new ServiceError("unavailable", "the detector store (Redis) is unavailable; try again later");
    }
  }

  async flaggedCount(): Promise<number> {
    return Number(await this.redis.ppPradaCount(this.flaggedKey, this.ttl));
  }

  outage(): string | undefined {
    return redisOutage(this.redis, "detector store");
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
