// Per-client query budgets: model stealing needs many queries, so capping inputs per API key is the
// defense's natural companion. A budget counts inputs (rows), not requests, and optionally resets
// every `windowSeconds`. The store is pluggable: memory here (one replica), Redis in src/service/node/.

export interface BudgetDecision {
  readonly allowed: boolean;
  /** Inputs left after this request (after the refusal: what is still left). */
  readonly remaining: number;
  readonly limit: number;
  /** Seconds until the window resets, when budgets are windowed. */
  readonly resetSeconds?: number;
}

export interface BudgetStore {
  /** Atomically spends `amount` inputs of `key`'s budget, or spends nothing and refuses when it would go over. */
  consume(key: string, amount: number): Promise<BudgetDecision>;
  /** Gives back inputs that were spent on a request the service then failed to answer. */
  refund(key: string, amount: number): Promise<void>;
  /** Why the store cannot count now (e.g. its Redis is unreachable), or undefined when it can: /healthz reports it. */
  outage?(): string | undefined;
  close?(): Promise<void>;
}

export interface BudgetOptions {
  /** Inputs each key may query (per window when `windowSeconds` is set). */
  readonly limit: number;
  /** Reset every key's count after this many seconds; omitted = a lifetime budget. */
  readonly windowSeconds?: number;
}

export function validateBudgetOptions(options: BudgetOptions): void {
  if (!Number.isInteger(options.limit) || options.limit < 1) throw new RangeError(`budget limit must be a positive integer, got ${options.limit}`);
  if (options.windowSeconds !== undefined && !(Number.isInteger(options.windowSeconds) && options.windowSeconds >= 1)) {
    throw new RangeError(`budget window must be a positive whole number of seconds, got ${options.windowSeconds}`);
  }
}

export interface MemoryBudgetOptions extends BudgetOptions {
  /** Most keys remembered; past it the least recently used key is forgotten (its count starts over).
   * Default 100,000 (a few MB). Keep it above the number of issued keys: `serve` accepts only listed keys. */
  readonly maxKeys?: number;
}

/** One replica's budgets, in memory, least recently used keys forgotten past `maxKeys`. `now` is injectable for tests of windows. */
export class MemoryBudgetStore implements BudgetStore {
  private readonly used = new Map<string, { count: number; resetsAt: number }>();
  readonly maxKeys: number;
  /** Keys forgotten because the store was full (their spending was lost). */
  evictions = 0;
  constructor(
    readonly options: MemoryBudgetOptions,
    private readonly now: () => number = () => Date.now(),
  ) {
    validateBudgetOptions(options);
    this.maxKeys = options.maxKeys ?? 100_000;
    if (!(Number.isInteger(this.maxKeys) && this.maxKeys >= 1)) throw new RangeError(`maxKeys must be a positive integer, got ${this.maxKeys}`);
  }

  private entry(key: string): { count: number; resetsAt: number } {
    const t = this.now();
    let e = this.used.get(key);
    // Map order is use order: re-insert on every use, so the first key is the least recently used.
    if (e) this.used.delete(key);
    if (!e || t >= e.resetsAt) {
      e = { count: 0, resetsAt: this.options.windowSeconds ? t + this.options.windowSeconds * 1000 : Infinity };
      if (this.used.size >= this.sweepAt) this.sweep(t);
      while (this.used.size >= this.maxKeys) {
        this.used.delete(this.used.keys().next().value as string);
        this.evictions++;
      }
    }
    this.used.set(key, e);
    return e;
  }

  // Windowed entries of keys that stopped asking would otherwise stay forever.
  private sweepAt = 10_000;
  private sweep(t: number): void {
    for (const [k, e] of this.used) if (t >= e.resetsAt) this.used.delete(k);
    this.sweepAt = Math.max(10_000, this.used.size * 2);
  }

  /** Keys with a live count (for tests and metrics). */
  get size(): number {
    return this.used.size;
  }

  async consume(key: string, amount: number): Promise<BudgetDecision> {
    const e = this.entry(key);
    const { limit } = this.options;
    const resetSeconds = Number.isFinite(e.resetsAt) ? Math.ceil((e.resetsAt - this.now()) / 1000) : undefined;
    if (e.count + amount > limit) return { allowed: false, remaining: limit - e.count, limit, resetSeconds };
    e.count += amount;
    return { allowed: true, remaining: limit - e.count, limit, resetSeconds };
  }

  async refund(key: string, amount: number): Promise<void> {
    const e = this.used.get(key);
    if (e) e.count = Math.max(0, e.count - amount);
  }
}
