// How well PRADA tells thieves from honest clients, measured with the service's own detection code
// (PradaDetection over a MemoryPradaStore, in process) fed with each client's real query stream: the victim
// is wrapped so that every batch a thief (or an honest client) sends is also observed, exactly as
// `serve --detect prada` observes the requests of one API key. Nothing here imports `node:`; the CLI
// (src/cli/detect.ts) loads the data and the victim and writes the report.
import { MemoryPradaStore } from "../defenses/prada.js";
import type { PradaCheck, PradaOptions } from "../defenses/prada.js";
import { argmaxRows } from "../models/argmax.js";
import { stream } from "../models/random.js";
import type { ProbabilityModel } from "../models/types.js";
import { buildModel } from "../models/zoo.js";
import { PradaDetection } from "../service/detection.js";
import { queryFixedSample } from "../thieves/knockoff.js";
import { createThief } from "../thieves/registry.js";
import type { BlackBox, ImageSet } from "../thieves/thief.js";

export interface DetectionEvalConfig {
  readonly seed: number;
  readonly prada: Required<PradaOptions>;
  readonly honest: { readonly clients: number; readonly queries: number; readonly batch: number };
  readonly thieves: readonly string[];
  readonly thiefSeeds: readonly number[];
  readonly thiefBudget: number;
  /** Thief overrides (e.g. substitute epochs; finalEpochs 1: the copy itself is not measured here). */
  readonly thiefParams: Readonly<Record<string, unknown>>;
  readonly knockoffSeeds: readonly number[];
  readonly knockoffBudget: number;
}

export interface ClientRun {
  readonly client: string;
  readonly queries: number;
  readonly tests: number;
  /** The query (1-based) of the first test (PRADA tests once more than minSample distances are pooled). */
  readonly firstTest: number | null;
  readonly alarmedTests: number;
  /** The query (1-based) whose test first alarmed; null: never flagged. */
  readonly firstAlarm: number | null;
  /** The first test after the first alarm that did not alarm (the alarm is not sticky); null: stayed flagged. */
  readonly clearedAt: number | null;
  /** Share of the tests from the first alarm on that alarmed (how steadily it stays flagged). */
  readonly alarmedAfterFirst: number | null;
  readonly minW: number | null;
  readonly finalW: number | null;
  /** Every test: [query, W]. */
  readonly series: readonly (readonly [number, number])[];
}

export interface ThiefRun extends ClientRun {
  readonly thief: string;
  readonly seed: number;
  /** Queries made before each augmentation round (Jacobian thieves): the seed set, then each round's end. */
  readonly roundStarts: readonly number[];
}

export interface DetectionEvalResult {
  readonly honest: { readonly clients: readonly ClientRun[]; readonly flagged: number; readonly falsePositiveRate: number; readonly alarmedTests: number; readonly tests: number };
  readonly thieves: readonly ThiefRun[];
  readonly knockoff: readonly ClientRun[];
  readonly seconds: number;
}

function summarise(client: string, queries: number, checks: readonly PradaCheck[]): ClientRun {
  const first = checks.find((c) => c.alarm);
  const after = first ? checks.filter((c) => c.query >= first.query) : [];
  const ws = checks.map((c) => c.w);
  return {
    client,
    queries,
    tests: checks.length,
    firstTest: checks[0]?.query ?? null,
    alarmedTests: checks.filter((c) => c.alarm).length,
    firstAlarm: first?.query ?? null,
    clearedAt: after.find((c) => !c.alarm)?.query ?? null,
    alarmedAfterFirst: first ? after.filter((c) => c.alarm).length / after.length : null,
    minW: ws.length ? Math.min(...ws) : null,
    finalW: ws.length ? ws[ws.length - 1] : null,
    series: checks.map((c) => [c.query, Number(c.w.toFixed(4))] as const),
  };
}

/** The victim as a black box whose every batch is also observed as client `client`'s queries. */
function observed(victim: ProbabilityModel, detection: PradaDetection, client: string, checks: PradaCheck[]): BlackBox & { queries: number } {
  const dim = victim.inputShape.reduce((a, b) => a * b, 1);
  const box = {
    inputShape: victim.inputShape,
    numClasses: victim.numClasses,
    queries: 0,
    async predict(batch: { data: Float32Array; batchSize: number; inputShape: readonly number[] }) {
      const probs = await victim.predict(batch);
      const labels = argmaxRows(probs, batch.batchSize, victim.numClasses);
      const verdict = await detection.observeDetailed(client, batch.data.slice(), dim, labels);
      checks.push(...verdict.checks);
      box.queries += batch.batchSize;
      return probs;
    },
  };
  return box;
}

export async function evaluateDetection(
  config: DetectionEvalConfig,
  data: {
    victim: ProbabilityModel;
    /** Honest clients' digits, and the Jacobian thieves' seed pool (in-distribution images the victim did not train on). */
    digits: ImageSet;
    /** Knockoff's natural out-of-distribution images (Fashion-MNIST). */
    pool: ImageSet;
  },
  log: (line: string) => void = () => {},
): Promise<DetectionEvalResult> {
  const started = performance.now();
  const { victim, digits, pool } = data;
  const dim = digits.inputShape.reduce((a, b) => a * b, 1);
  const newDetection = () => new PradaDetection({ store: new MemoryPradaStore({ maxClients: 100_000 }), onDetect: "flag", prada: config.prada });

  // Honest clients: distinct digits each, in a random order of their own; the victim's labels.
  const labels = argmaxRows(await victim.predict({ data: digits.images, batchSize: digits.count, inputShape: digits.inputShape }), digits.count, victim.numClasses);
  const honestDetection = newDetection();
  const honest: ClientRun[] = [];
  const queries = Math.min(config.honest.queries, digits.count);
  for (let k = 0; k < config.honest.clients; k++) {
    const order = stream(config.seed, "honest-client", k).permutation(digits.count).subarray(0, queries);
    const checks: PradaCheck[] = [];
    for (let at = 0; at < queries; at += config.honest.batch) {
      const rows = order.subarray(at, Math.min(queries, at + config.honest.batch));
      const inputs = new Float32Array(rows.length * dim);
      const rowLabels = new Int32Array(rows.length);
      rows.forEach((r, i) => {
        inputs.set(digits.images.subarray(r * dim, (r + 1) * dim), i * dim);
        rowLabels[i] = labels[r];
      });
      checks.push(...(await honestDetection.observeDetailed(`honest-${k}`, inputs, dim, rowLabels)).checks);
    }
    const run = summarise(`honest-${k}`, queries, checks);
    honest.push(run);
    log(`honest client ${k}: ${run.tests} tests, ${run.alarmedTests} alarmed, min W ${run.minW?.toFixed(3)}`);
  }
  const flagged = honest.filter((h) => h.firstAlarm !== null).length;

  // Jacobian thieves: their own query streams against the undefended victim.
  const thieves: ThiefRun[] = [];
  for (const name of config.thieves) {
    for (const seed of config.thiefSeeds) {
      const detection = newDetection();
      const checks: PradaCheck[] = [];
      const box = observed(victim, detection, `${name}-${seed}`, checks);
      const roundStarts: number[] = [];
      const thief = createThief(name, { ...config.thiefParams }, {
        buildSubstitute: (s) => buildModel({ arch: "lenet", numClasses: victim.numClasses, inputShape: digits.inputShape, seed: s }),
        seeds: digits,
      });
      const t0 = performance.now();
      const result = await thief.steal(box, {
        budget: config.thiefBudget,
        seed,
        onProgress: (e) => {
          if (e.phase === "augment") roundStarts.push(e.queriesUsed);
        },
      });
      result.model.dispose();
      const run = { ...summarise(`${name}-${seed}`, box.queries, checks), thief: name, seed, roundStarts };
      thieves.push(run);
      log(`${name} seed ${seed}: ${box.queries} queries in ${((performance.now() - t0) / 1000).toFixed(0)} s, first alarm at ${run.firstAlarm ?? "never"}, min W ${run.minW?.toFixed(3)}`);
    }
  }

  // Knockoff: a random sample of natural images from another distribution (exactly the thief's queries).
  const knockoff: ClientRun[] = [];
  for (const seed of config.knockoffSeeds) {
    const detection = newDetection();
    const checks: PradaCheck[] = [];
    const box = observed(victim, detection, `knockoff-${seed}`, checks);
    await queryFixedSample("knockoff", box, pool, { budget: config.knockoffBudget, seed }, 128);
    const run = summarise(`knockoff-${seed}`, box.queries, checks);
    knockoff.push(run);
    log(`knockoff seed ${seed}: ${box.queries} queries, ${run.alarmedTests} of ${run.tests} tests alarmed, min W ${run.minW?.toFixed(3)}`);
  }

  return {
    honest: {
      clients: honest,
      flagged,
      falsePositiveRate: honest.length ? flagged / honest.length : 0,
      alarmedTests: honest.reduce((s, h) => s + h.alarmedTests, 0),
      tests: honest.reduce((s, h) => s + h.tests, 0),
    },
    thieves,
    knockoff,
    seconds: (performance.now() - started) / 1000,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const w3 = (x: number | null) => (x === null ? "–" : x.toFixed(3));

/** The Markdown report. */
export function detectionReport(config: DetectionEvalConfig, result: DetectionEvalResult, context: { command: string; victim: string }): string {
  const p = config.prada;
  const lines: string[] = [];
  lines.push("# Detecting thieves: PRADA", "");
  lines.push(`Command: \`${context.command}\` (${(result.seconds / 60).toFixed(1)} min).`, "");
  lines.push(
    `Victim: ${context.victim}, undefended (answers as they are; PRADA only reads the predicted class). ` +
      `Detector: the service's PradaDetection (the code \`serve --detect prada\` runs) over a memory store, δ = ${p.delta}, ` +
      `a test every ${p.checkEvery} queries on the pooled distances of classes with ≥ ${p.minClassDistances}, ` +
      `${p.outlierSigmas}-sigma outliers dropped, W computed above ${p.minSample} distances; at most ${p.maxGrowing} inputs per class in G_c ` +
      `and ${p.maxDistances} distances per class in D_c.`,
    "",
  );
  const h = result.honest;
  lines.push("## Honest clients (false positives)", "");
  lines.push(
    `${h.clients.length} clients, each streaming ${h.clients[0]?.queries ?? 0} distinct MNIST test digits (of the victim's 2,000 held-out ones) ` +
      `in its own random order, ${config.honest.batch} per request. Flagged: **${h.flagged} of ${h.clients.length}** ` +
      `(false-positive rate ${pct(h.falsePositiveRate)}); alarmed tests: ${h.alarmedTests} of ${h.tests}.`,
    "",
  );
  const ws = h.clients.flatMap((c) => (c.minW === null ? [] : [c.minW]));
  if (ws.length) lines.push(`Lowest W any honest client reached: ${Math.min(...ws).toFixed(3)}; median of the clients' lowest W: ${median(ws).toFixed(3)}.`, "");
  lines.push("## Jacobian thieves", "");
  lines.push(
    `Each thief's real query stream (${config.thiefBudget} queries; thief parameters ${JSON.stringify(config.thiefParams)}; ` +
      `seed set of ${Number(config.thiefParams.seedSize ?? 100)} test digits; the substitute's final training is cut to its minimum since only the queries matter here).`,
    "",
  );
  lines.push("| thief | seed | queries | rounds start at | first test at query | first flagged at query | first cleared again at | tests alarmed from then on | lowest W | final W |", "|---|---|---|---|---|---|---|---|---|---|");
  for (const t of result.thieves) {
    lines.push(
      `| ${t.thief} | ${t.seed} | ${t.queries} | ${t.roundStarts.join(", ")} | ${t.firstTest ?? "–"} | ${t.firstAlarm ?? "never"} | ${t.firstAlarm === null ? "–" : t.clearedAt ?? "never"} | ${t.alarmedAfterFirst === null ? "–" : pct(t.alarmedAfterFirst)} | ${w3(t.minW)} | ${w3(t.finalW)} |`,
    );
  }
  lines.push("");
  lines.push("## Knockoff with natural images (Fashion-MNIST)", "");
  lines.push(`Knockoff's own sample of Fashion-MNIST training images (${config.knockoffBudget} queries per seed).`, "");
  lines.push("| seed | queries | tests | alarmed tests | first flagged at query | lowest W | final W |", "|---|---|---|---|---|---|---|");
  for (const k of result.knockoff) lines.push(`| ${k.client.replace("knockoff-", "")} | ${k.queries} | ${k.tests} | ${k.alarmedTests} | ${k.firstAlarm ?? "never"} | ${w3(k.minW)} | ${w3(k.finalW)} |`);
  lines.push("");
  // δ only decides the verdict, never the state: other thresholds are read off the same tests.
  const deltas = [...new Set([p.delta, 0.9, 0.95])].sort();
  lines.push("## Other thresholds, from the same tests", "");
  lines.push("δ only turns W into a verdict (in flag mode it changes no state), so the same runs give the verdicts at other δ:", "");
  lines.push("| δ | honest clients flagged | Jacobian thieves flagged | their first flag (min–max query) | Knockoff runs flagged | Knockoff tests alarmed |", "|---|---|---|---|---|---|");
  const firstBelow = (r: ClientRun, d: number) => r.series.find(([, w]) => w < d)?.[0] ?? null;
  for (const d of deltas) {
    const hf = h.clients.filter((c) => firstBelow(c, d) !== null).length;
    const tf = result.thieves.map((t) => firstBelow(t, d)).filter((q): q is number => q !== null);
    const kf = result.knockoff.filter((k) => firstBelow(k, d) !== null).length;
    const kt = result.knockoff.reduce((n, k) => n + k.series.filter(([, w]) => w < d).length, 0);
    const ktests = result.knockoff.reduce((n, k) => n + k.tests, 0);
    lines.push(
      `| ${d} | ${hf} of ${h.clients.length} | ${tf.length} of ${result.thieves.length} | ${tf.length ? `${Math.min(...tf)}–${Math.max(...tf)}` : "–"} | ${kf} of ${result.knockoff.length} | ${kt} of ${ktests} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
