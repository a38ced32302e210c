// Prometheus text exposition (format 0.0.4) for the service, written by hand: the common client
// libraries depend on Node built-ins, and this app must also run in edge runtimes.
import type { ErrorKind } from "./errors.js";
import { errorKinds } from "./errors.js";

type Labels = Readonly<Record<string, string>>;

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  const escape = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
  return `{${entries.map(([k, val]) => `${k}="${escape(val)}"`).join(",")}}`;
}

function num(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "+Inf";
  if (x === -Infinity) return "-Inf";
  return String(x);
}

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    initial: Labels[] = [{}],
  ) {
    for (const l of initial) this.values.set(labelText(l), 0);
  }
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [l, val] of this.values) lines.push(`${this.name}${l} ${num(val)}`);
    return lines.join("\n");
  }
}

export class Gauge {
  private value = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read?: () => number,
  ) {}
  set(x: number): void {
    this.value = x;
  }
  get(): number {
    return this.read ? this.read() : this.value;
  }
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${num(this.get())}`].join("\n");
  }
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(x: number): void {
    this.sum += x;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (x <= this.buckets[i]) this.counts[i]++;
  }
  get total(): number {
    return this.count;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${num(b)}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${num(this.sum)}`, `${this.name}_count ${this.count}`);
    return lines.join("\n");
  }
}

/** Everything the service counts. One instance per app (per replica). */
export class ServiceMetrics {
  readonly queries = new Counter("pp_queries_total", "Inputs answered with perturbed probabilities (rows, not requests).");
  readonly requests = new Counter("pp_predict_requests_total", "POST /v1/predict requests answered successfully.");
  readonly errors = new Counter(
    "pp_errors_total",
    "Requests that failed, by kind.",
    errorKinds.map((kind) => ({ kind })),
  );
  readonly latency = new Histogram(
    "pp_predict_duration_seconds",
    "Latency of successful POST /v1/predict requests, from body read to answer.",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  readonly batchSize = new Histogram("pp_predict_batch_size", "Inputs per successful request.", [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
  // A counter ends in _total (Prometheus naming); a _sum suffix belongs to histograms and summaries.
  readonly l1Sum = new Counter("pp_perturbation_l1_total", "Sum over answered inputs of the L1 distance between perturbed and true probabilities.");
  readonly l1Mean = new Gauge("pp_perturbation_l1_mean", "Mean L1 distance between perturbed and true probabilities over answered inputs.", () => {
    const n = this.queries.get();
    return n ? this.l1Sum.get() / n : 0;
  });
  /** Extra series a host adds (worker pool size, restarts), rendered after the built-in ones. */
  private readonly extra: { render(): string }[] = [];

  add<T extends { render(): string }>(metric: T): T {
    this.extra.push(metric);
    return metric;
  }

  recordSuccess(rows: number, l1: Float32Array, seconds: number): void {
    this.requests.inc();
    this.queries.inc({}, rows);
    let s = 0;
    for (let i = 0; i < l1.length; i++) s += l1[i];
    this.l1Sum.inc({}, s);
    this.latency.observe(seconds);
    this.batchSize.observe(rows);
  }

  recordError(kind: ErrorKind): void {
    this.errors.inc({ kind });
  }

  render(): string {
    const all = [this.queries, this.requests, this.errors, this.latency, this.batchSize, this.l1Sum, this.l1Mean, ...this.extra];
    return all.map((m) => m.render()).join("\n") + "\n";
  }
}
