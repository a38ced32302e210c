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

/** One replica's budgets, in memory. `now` is injectable for tests of windows. */
export class MemoryBudgetStore implements BudgetStore {
  private readonly used = new Map<string, { count: number; resetsAt: number }>();
  constructor(
    readonly options: BudgetOptions,
    private readonly now: () => number = () => Date.now(),
  ) {
    validateBudgetOptions(options);
  }

  private entry(key: string): { count: number; resetsAt: number } {
    const t = this.now();
    let e = this.used.get(key);
    if (!e || t >= e.resetsAt) {
      e = { count: 0, resetsAt: this.options.windowSeconds ? t + this.options.windowSeconds * 1000 : Infinity };
      if (!this.used.has(key) && this.used.size >= this.sweepAt) this.sweep(t);
      this.used.set(key, e);
    }
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
