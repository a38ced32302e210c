// The watermark evaluation (DAWN, Szyller et al., ACM MM 2021; src/defenses/watermark.ts): every thief
// steals from the victim behind a watermark, and `verify`'s test (src/defenses/watermark-verify.ts) is run
// on each stolen copy with at most `maxQueries` of the watermarked queries that thief itself was given.
// Controls: `cleanCopies` Knockoff copies trained on the very same inputs with the victim's clean answers
// (only the training seed differs) are tested against the same watermarks; an independent model must not
// be identified. The honest user's cost is the accuracy of the watermarked answers on the test set.
import { DefendedModel } from "../defenses/index.js";
import { argmaxRows } from "../models/argmax.js";
import { roleSeed } from "../models/random.js";
import { describeThief } from "../thieves/registry.js";
import { AnswerTable, predictAll } from "./black-box.js";
import { threatOf, type DefenseSetting, type WatermarkEvaluation } from "./config.js";
import { hashBytes, stableStringify } from "./hash.js";
import { markCounts, poolQueryImages, watermarkSet, type ThiefJob, type ThiefJobResult, type WatermarkSet } from "./jobs.js";
import { accuracyFromProbs } from "./metrics.js";
import type { EvalStore, JobExecutor } from "./runner.js";
import { runSeeds } from "./seeds.js";
import type { EvalSetup } from "./setup.js";
import { EvalJobsFailedError, failedJob, type FailedJob } from "./errors.js";
import type { MarkTest, WatermarkRecord } from "../defenses/index.js";

/**
 * Bumped when a row's meaning changes (2: the p-value counts only the queries where a match was possible;
 * 3: soft marks, and the p-value combines the label and soft tests).
 */
export const WATERMARK_SCHEMA = 3;

export interface WatermarkRow {
  readonly kind: "thief" | "clean copy";
  readonly attack: string;
  /** Training epochs of this suspect (the preset's, or the fitted ones). */
  readonly epochs: number;
  readonly seed: number;
  readonly queriesUsed: number;
  /** Label-marked answers among the ones this suspect's inputs got. */
  readonly marks: number;
  /** Soft-marked answers among them. */
  readonly softMarks: number;
  /** The two tests (null: no such marks were verified). */
  readonly label: MarkTest | null;
  readonly soft: MarkTest | null;
  readonly queries: number;
  /** Verification queries the suspect did not answer with the victim's label: the only ones that can match. */
  readonly informative?: number;
  readonly matches: number;
  readonly pValue: number;
  readonly log10PValue: number;
  readonly verdict: "stolen" | "no evidence";
  readonly thiefAccuracy: number;
  readonly fidelity: number;
  readonly seconds: number;
  readonly key: string;
}

export interface WatermarkSummary {
  readonly rows: WatermarkRow[];
  readonly markdown: string;
  readonly victimAccuracy: number;
  readonly watermarkedAccuracy: number;
}

export interface WatermarkRunOptions {
  readonly setup: EvalSetup;
  readonly store: EvalStore;
  readonly execute: JobExecutor;
  readonly log: (message: string) => void;
  readonly evaluation: WatermarkEvaluation;
  readonly command?: string;
}

export async function runWatermarkEvaluation(options: WatermarkRunOptions): Promise<WatermarkSummary> {
  const { setup, store, log, evaluation: wm } = options;
  const { config, data } = setup;
  const K = data.numClasses;
  const threat = threatOf(config, data.poolName);
  const seeds = runSeeds(config.seed);
  const attacks = wm.attacks?.[threat] ?? config.attacks;
  for (const attack of attacks) describeThief(attack);
  const setting: DefenseSetting = { defense: "none", params: {}, order: 0, watermark: { rate: wm.rate, softRate: wm.softRate, softMass: wm.softMass, softKeying: wm.softKeying, labelKeying: wm.labelKeying } };
  const rowSize = data.inputShape.reduce((a, b) => a * b, 1);

  // What a set of queries gets through the watermark: the answers and the marked rows.
  const answer = async (images: Float32Array, count: number, victimProbs: Float32Array) => {
    const records: WatermarkRecord[] = [];
    const defense = setup.createDefense(setting, { onWatermark: (r) => void records.push(...r) });
    const defended = new DefendedModel(new AnswerTable(images, victimProbs, data.inputShape, K), defense, { numClasses: K, inputShape: [...data.inputShape] });
    try {
      return { answers: await predictAll(defended, images, count, data.inputShape), marks: watermarkSet(records, rowSize) };
    } finally {
      defended.dispose();
    }
  };
  const victimTest = await predictAll(setup.victim, data.test.images, data.test.count, data.inputShape);
  const victimAccuracy = accuracyFromProbs(victimTest, data.test.labels, K);
  const test = await answer(data.test.images, data.test.count, victimTest);
  const watermarkedAccuracy = accuracyFromProbs(test.answers, data.test.labels, K);
  log(`watermark rate ${wm.rate} (soft ${wm.softRate ?? 0}): ${markCounts(test.marks).label} of ${data.test.count} test answers label-marked; accuracy ${(victimAccuracy * 100).toFixed(2)} % -> ${(watermarkedAccuracy * 100).toFixed(2)} %`);

  const queries = poolQueryImages(setup, config.budget, seeds.thief);
  const victimQueries = await predictAll(setup.victim, queries.images, queries.count, data.inputShape);
  const fixed = await answer(queries.images, queries.count, victimQueries);
  const queryTag = hashBytes(queries.images);
  const victimTestLabels = argmaxRows(victimTest, data.test.count, K);

  const previousText = await store.readText("results.json");
  const previous = previousText ? (JSON.parse(previousText) as { meta?: { schema?: number }; rows: WatermarkRow[] }) : null;
  const done = new Map((previous?.meta?.schema === WATERMARK_SCHEMA ? previous.rows : []).map((r) => [r.key, r]));
  const identity = (kind: WatermarkRow["kind"], attack: string, seed: number, params?: Record<string, unknown>) =>
    stableStringify({
      kind, attack, seed, threat, budget: config.budget, rate: wm.rate, softRate: wm.softRate ?? 0, softMass: wm.softMass, softKeying: wm.softKeying ?? "class", ...(wm.labelKeying === "class" ? { labelKeying: "class" } : {}), maxQueries: wm.maxQueries, alpha: wm.alpha, victim: setup.victimKey,
      thiefParams: setup.createThief(attack, { params }).params, queries: describeThief(attack).queries === "fixed-sample" || kind === "clean copy" ? queryTag : "live",
      // No core build: the watermark wraps defense "none", which never calls the WASM core.
      key: hashBytes(new TextEncoder().encode(seeds.defenseKey)),
    });

  const rows: WatermarkRow[] = [];
  const jobs: ThiefJob[] = [];
  const pending = new Map<number, { kind: WatermarkRow["kind"]; attack: string; seed: number; key: string; epochs: number }>();
  const verify = (marks?: WatermarkSet) => ({ maxQueries: wm.maxQueries, alpha: wm.alpha, marks });
  const knowledge = { name: "none", params: {} };
  const epochsOf = (attack: string, params?: Record<string, unknown>) => Number((setup.createThief(attack, { params }).params as { epochs?: number }).epochs ?? 0);
  const addThief = (attack: string, params?: Record<string, unknown>) => {
    const key = identity("thief", attack, seeds.thief, params);
    const finished = done.get(key);
    if (finished) return void rows.push({ ...finished, epochs: finished.epochs ?? epochsOf(attack, params) });
    const replayed = describeThief(attack).queries === "fixed-sample";
    const id = jobs.length;
    jobs.push({
      id, attack, budget: config.budget, seed: seeds.thief, setting, knowledge, victimTestLabels, thiefParams: params,
      answers: replayed ? fixed.answers : undefined, victimAnswers: replayed ? victimQueries : undefined, verify: verify(replayed ? fixed.marks : undefined),
    });
    pending.set(id, { kind: "thief", attack, seed: seeds.thief, key, epochs: epochsOf(attack, params) });
  };
  const addCleanCopy = (i: number, params?: Record<string, unknown>) => {
    const seed = roleSeed(config.seed, "clean-copy", i);
    const key = identity("clean copy", "knockoff", seed, params);
    const finished = done.get(key);
    if (finished) return void rows.push({ ...finished, epochs: finished.epochs ?? epochsOf("knockoff", params) });
    const id = jobs.length;
    jobs.push({
      id, attack: "knockoff", budget: config.budget, seed, setting: { defense: "none", params: {}, order: 0 }, knowledge, victimTestLabels,
      answers: victimQueries, cleanCopy: { querySeed: seeds.thief }, verify: verify(fixed.marks), thiefParams: params,
    });
    pending.set(id, { kind: "clean copy", attack: "knockoff", seed, key, epochs: epochsOf("knockoff", params) });
  };
  for (const attack of attacks) addThief(attack);
  for (let i = 0; i < wm.cleanCopies; i++) addCleanCopy(i);
  if (wm.fitted) {
    const params = { epochs: wm.fitted.epochs };
    for (const attack of wm.fitted.attacks.filter((a) => attacks.includes(a) && describeThief(a).queries === "fixed-sample")) addThief(attack, params);
    for (let i = 0; i < wm.fitted.cleanCopies; i++) addCleanCopy(i, params);
  }

  const write = async () => {
    const summary = summarize(rows, wm, { threat, victimAccuracy, watermarkedAccuracy, marks: markCounts(fixed.marks), budget: config.budget, pool: data.poolName });
    await store.writeText("results.json", JSON.stringify({
      meta: { schema: WATERMARK_SCHEMA, threat, budget: config.budget, transferSet: data.poolName, ...wm, victimAccuracy, watermarkedAccuracy, command: options.command },
      rows: sortRows(rows),
    }, null, 2) + "\n");
    await store.writeText("results.md", summary);
    return summary;
  };
  log(`watermark evaluation (${threat}): ${rows.length} suspects finished, ${jobs.length} to train`);
  let trained = 0;
  const failures: FailedJob[] = [];
  await options.execute(jobs, async (result: ThiefJobResult) => {
    const what = pending.get(result.id);
    if (!what || !result.watermark) throw new Error(`watermark evaluation: unexpected result for job ${result.id}`);
    const w = result.watermark;
    rows.push({
      ...what, queriesUsed: result.queriesUsed, marks: w.marks, softMarks: w.softMarks, label: w.label ?? w.labelClass, soft: w.softClass ?? w.softInput, queries: w.queries, informative: w.informative, matches: w.matches, pValue: w.pValue, log10PValue: w.log10PValue,
      verdict: w.verdict, thiefAccuracy: result.thiefAccuracy, fidelity: result.fidelity, seconds: result.seconds,
    });
    trained++;
    const part = (name: string, t: MarkTest | null) => (t ? `${name} ${t.matches}/${t.queries}` : `${name} -`);
    log(`[wm ${trained}/${jobs.length}] ${what.kind} ${what.attack} (${what.epochs} epochs): ${part("label", w.label ?? w.labelClass)}, ${part("soft", w.softClass ?? w.softInput)}, p = ${w.pValue.toExponential(1)} (${w.verdict})`);
    await write();
  }, async (job, error) => {
    const what = pending.get(job.id);
    const name = what ? `${what.kind} ${what.attack} (${what.epochs} epochs)` : `job ${job.id}`;
    failures.push(failedJob(name, error));
    log(`[wm failed] ${name}: ${error.message}`);
  });
  const markdown = await write();
  if (failures.length) throw new EvalJobsFailedError(failures);
  return { rows: sortRows(rows), markdown, victimAccuracy, watermarkedAccuracy };
}

function sortRows(rows: readonly WatermarkRow[]): WatermarkRow[] {
  return [...rows].sort((a, b) => a.kind.localeCompare(b.kind) * -1 || a.epochs - b.epochs || a.attack.localeCompare(b.attack) || a.seed - b.seed);
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const pFormat = (row: Pick<WatermarkRow, "log10PValue" | "pValue">) => (row.pValue > 1e-3 ? row.pValue.toFixed(3) : `1e${row.log10PValue.toFixed(1)}`);

function summarize(
  rows: readonly WatermarkRow[],
  wm: WatermarkEvaluation,
  info: { threat: string; victimAccuracy: number; watermarkedAccuracy: number; marks: { label: number; soft: number }; budget: number; pool: string },
): string {
  const thieves = sortRows(rows.filter((r) => r.kind === "thief"));
  const clean = rows.filter((r) => r.kind === "clean copy");
  const lines: string[] = [];
  const soft = wm.softRate ? `, soft marks at ${wm.softRate} (mass ≤ ${wm.softMass ?? "default"}, keyed per ${wm.softKeying ?? "class"})` : "";
  lines.push(`### Watermark (${info.threat}): label marks at ${wm.rate} (keyed per ${wm.labelKeying ?? "input"})${soft}, at most ${wm.maxQueries} verification queries, identified at p ≤ ${wm.alpha}`);
  lines.push("");
  lines.push(`Honest users: test accuracy ${pct(info.victimAccuracy)} undefended, ${pct(info.watermarkedAccuracy)} with the watermark ` +
    `(cost ${((info.victimAccuracy - info.watermarkedAccuracy) * 100).toFixed(2)} points; target ≤ ${(wm.rate * 100).toFixed(1)}; soft marks keep the top-1). ` +
    `Of the ${info.budget} fixed-sample queries (${info.pool}), ${info.marks.label} carry a label mark and ${info.marks.soft} a soft mark.`);
  lines.push("");
  lines.push("| thief | epochs | queries | label marks it got | soft marks it got | label test: matches / informative | soft test: matches / queries | p-value | verdict | thief accuracy |");
  lines.push("|---|---|---|---|---|---|---|---|---|---|");
  const cell = (t: MarkTest | null | undefined) => (t ? `${t.matches} / ${t.informative} (p ${pFormat(t)})` : "-");
  for (const r of thieves) {
    lines.push(`| ${r.attack} | ${r.epochs} | ${r.queriesUsed} | ${r.marks} | ${r.softMarks ?? 0} | ${cell(r.label)} | ${cell(r.soft)} | ${pFormat(r)} | ${r.verdict} | ${pct(r.thiefAccuracy)} |`);
  }
  const big = thieves.filter((r) => r.queriesUsed >= 1000);
  const caught = big.filter((r) => r.log10PValue <= Math.log10(wm.alpha));
  lines.push("");
  lines.push(`Thieves with ≥ 1,000 queries identified at p ≤ ${wm.alpha}: ${caught.length} of ${big.length}` +
    (caught.length < big.length ? ` (not: ${big.filter((r) => !caught.includes(r)).map((r) => r.attack).join(", ")})` : "") + ".");
  for (const epochs of [...new Set(clean.map((r) => r.epochs))].sort((a, b) => a - b)) {
    const group = clean.filter((r) => r.epochs === epochs);
    const falsely = group.filter((r) => r.log10PValue <= Math.log10(wm.controlAlpha));
    const worst = group.reduce((a, b) => (b.log10PValue < a.log10PValue ? b : a));
    lines.push(`Clean copies (Knockoff on the same ${info.budget} inputs with the victim's clean answers, ${epochs} epochs, ${group.length} training seeds): ` +
      `watermark classes returned ${group.map((r) => r.matches).join(", ")} of ${worst.queries}; smallest p ${pFormat(worst)}; ` +
      `identified at p ≤ ${wm.controlAlpha}: ${falsely.length} of ${group.length}.`);
  }
  return lines.join("\n") + "\n";
}
