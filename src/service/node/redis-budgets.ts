// Budgets in Redis, shared by every replica behind a load balancer. One Lua script checks and spends
// atomically, so concurrent requests on different replicas can never overspend a key.
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import type { BudgetDecision, BudgetOptions, BudgetStore } from "../budgets.js";
import { validateBudgetOptions } from "../budgets.js";
import { ServiceError } from "../errors.js";

// KEYS[1] budget key; ARGV: amount, limit, window seconds (0 = lifetime). Returns {allowed, remaining, ttl}.
const consumeScript = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
if used + amount > limit then
  return {0, limit - used, redis.call('TTL', KEYS[1])}
end
local now = redis.call('INCRBY', KEYS[1], amount)
if window > 0 and redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], window) end
return {1, limit - now, redis.call('TTL', KEYS[1])}
`;

// KEYS[1] budget key; ARGV[1] amount. Never goes below zero and keeps the window's expiry: a key that is
// gone (its window ended) stays gone, a windowed count that reaches zero stays with its TTL (deleting it
// would let the next request open a fresh window), a lifetime count at zero is deleted.
const refundScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local left = redis.call('DECRBY', KEYS[1], tonumber(ARGV[1]))
if left < 0 then
  redis.call('SET', KEYS[1], 0, 'KEEPTTL')
  left = 0
end
if left == 0 and redis.call('TTL', KEYS[1]) == -1 then redis.call('DEL', KEYS[1]) end
return left
`;

/** How an API key is named in Redis: SHA-256 hex, so a dump of Redis holds no usable key. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

type BudgetRedis = Redis & {
  ppConsume(key: string, amount: number, limit: number, window: number): Promise<[number, number, number]>;
  ppRefund(key: string, amount: number): Promise<number>;
};

export interface RedisBudgetOptions extends BudgetOptions {
  /** redis://[user:pass@]host:port[/db] */
  readonly url: string;
  /** Key prefix, so budgets can share a Redis with other data. Default "pp:budget:". */
  readonly prefix?: string;
}

export class RedisBudgetStore implements BudgetStore {
  private constructor(
    private readonly redis: BudgetRedis,
    readonly options: RedisBudgetOptions,
  ) {}

  /** Connects and checks the server answers, so a wrong URL fails at start-up, not on the first query. */
  static async connect(options: RedisBudgetOptions): Promise<RedisBudgetStore> {
    validateBudgetOptions(options);
    const redis = (await connectRedis(options.url)) as BudgetRedis;
    redis.defineCommand("ppConsume", { numberOfKeys: 1, lua: consumeScript });
    redis.defineCommand("ppRefund", { numberOfKeys: 1, lua: refundScript });
    return new RedisBudgetStore(redis, options);
  }

  private key(client: string): string {
    return (this.options.prefix ?? "pp:budget:") + hashApiKey(client);
  }

  async consume(key: string, amount: number): Promise<BudgetDecision> {
    let reply: [number, number, number];
    try {
      reply = await this.redis.ppConsume(this.key(key), amount, this.options.limit, this.options.windowSeconds ?? 0);
    } catch {
      // Fail closed: without the shared count a thief could spend unlimited queries.
      throw new ServiceError("unavailable", "the budget store (Redis) is unavailable; try again later");
    }
    const [allowed, remaining, ttl] = reply;
    return { allowed: allowed === 1, remaining: Math.max(0, remaining), limit: this.options.limit, resetSeconds: ttl > 0 ? ttl : undefined };
  }

  async refund(key: string, amount: number): Promise<void> {
    await this.redis.ppRefund(this.key(key), amount).catch(() => {});
  }

  outage(): string | undefined {
    return redisOutage(this.redis, "budget store");
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Why a client cannot reach its Redis now ("the budget store (Redis) is unreachable (reconnecting)"), or undefined. */
export function redisOutage(redis: Redis, what: string): string | undefined {
  return redis.status === "ready" ? undefined : `the ${what} (Redis) is unreachable (${redis.status})`;
}

/** A connected client that has answered PING; it reconnects on its own, and failures surface per request as 503s. */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 5000 });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${redactUrl(url)}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return redis;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparsable URL>";
  }
}
