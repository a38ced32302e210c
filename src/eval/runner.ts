// The attack-versus-defense runner. Work that is the same runs once: the victim answers each fixed
// query set once (cached in the output directory), each defense setting answers it once for every
// pool thief (settings of one defense that differ only in ε answer together, sweeps.ts), a thief whose
// training targets are identical to an earlier run's is not retrained (the top-1 thief against every
// label-preserving defense), and finished points are never recomputed.
import { DefendedModel, listDefenses, type Defense } from "../defenses/index.js";
import { describeThief } from "../thieves/registry.js";
import { argmaxOneHot } from "../thieves/thief.js";
import { argmaxRows } from "../models/argmax.js";
import { AnswerTable, predictAll } from "./black-box.js";
import { threatOf, type DefenseSetting } from "./config.js";
import { hashBytes, hashString, stableStringify } from "./hash.js";
import { poolQueryImages, type ThiefJob, type ThiefJobResult } from "./jobs.js";
import { accuracyFromProbs, summarizeStats, top1Margins, type MarginSummary, type PerturbationSummary } from "./metrics.js";
import { renderPlots } from "./plot.js";
import { POINT_SCHEMA, pointKey, settingLabel, type EvalPoint } from "./point.js";
import { runSeeds } from "./seeds.js";
import { sortPoints, toCsv, toJson, toMarkdown, undefendedSummary, type ReportMeta } from "./report.js";
import type { EvalSetup } from "./setup.js";
import { EvalJobsFailedError, failedJob, type FailedJob } from "./errors.js";
import { answerSwept, epsilonGroups, type AnsweredSetting } from "./sweeps.js";

/** The output directory, abstracted (Node: files under --out). Names may contain "/". */
export interface EvalStore {
  readText(name: string): Promise<string | null>;
  writeText(name: string, text: string): Promise<void>;
  readFloats(name: string): Promise<Float32Array | null>;
  writeFloats(name: string, data: Float32Array): Promise<void>;
  /** Human-readable location of a name, for logs. */
  where(name: string): string;
}

/**
 * Runs jobs (in worker threads or in this thread) and reports each result as it finishes. A job that throws
 * is reported to `onFailure` and the others go on; only a failure of the executor itself rejects.
 */
export type JobExecutor = (
  jobs: readonly ThiefJob[],
  onResult: (result: ThiefJobResult) => Promise<void>,
  onFailure: (job: ThiefJob, error: Error) => Promise<void>,
) => Promise<void>;

/** The executor that runs every job in this thread, one after another. */
export function inThisThread(run: (job: ThiefJob) => Promise<ThiefJobResult>): JobExecutor {
  return async (jobs, onResult, onFailure) => {
    for (const job of jobs) {
      let result: ThiefJobResult;
      try {
        result = await run(job);
      } catch (err) {
        await onFailure(job, err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      await onResult(result);
    }
  };
}

export interface RunOptions {
  readonly setup: EvalSetup;
  readonly store: EvalStore;
  readonly execute: JobExecutor;
  readonly log: (message: string) => void;
  readonly command?: string;
  readonly workers?: number;
  /** performance.now() when the whole run began (before training the victim), for the total wall time. */
  readonly startedAt?: number;
}

export interface RunSummary {
  readonly points: EvalPoint[];
  readonly meta: ReportMeta;
  /** Thief trainings run in this call. */
  readonly trained: number;
  /** Points filled from an identical training run instead of a new one. */
  readonly reused: number;
  /** Points found finished in the output directory. */
  readonly resumed: number;
  readonly markdown: string;
  readonly plots: string[];
}

async function cachedFloats(store: EvalStore, name: string, compute: () => Promise<Float32Array>): Promise<Float32Array> {
  const cached = await store.readFloats(name);
  if (cached) return cached;
  const data = await compute();
  await store.writeFloats(name, data);
  return data;
}

/** One defense setting's answers to the test set (the defender's side): cached per setting. */
interface SettingTest {
  readonly defenderAccuracy: number;
  readonly defenseParams: Record<string, unknown>;
  readonly margin: MarginSummary;
  readonly seconds: number;
}

/** One defense setting's answers to the fixed query set, and their perturbation: cached per setting and query set. */
interface SettingQueries {
  readonly answers: Float32Array;
  readonly perturbation: PerturbationSummary;
  readonly seconds: number;
}

export async function runEvaluation(options: RunOptions): Promise<RunSummary> {
  const { setup, store, log } = options;
  const { config, data } = setup;
  const K = data.numClasses;
  const started = options.startedAt ?? performance.now();
  const threat = threatOf(config, data.poolName);
  const seeds = runSeeds(config.seed);
  const order = { attacks: [...config.attacks], defenses: [...new Set(config.settings.map((s) => s.defense))] };
  // Fail early on an unknown name or a bad parameter, before any answering or training; keep the filled-in parameters.
  for (const attack of config.attacks) describeThief(attack);
  const filledParams = new Map<DefenseSetting, Record<string, unknown>>();
  for (const setting of config.settings) {
    const defense = setup.createDefense(setting);
    filledParams.set(setting, { ...defense.params });
    defense.dispose?.();
  }

  const previousText = await store.readText("results.json");
  const previousReport = previousText ? (JSON.parse(previousText) as { meta?: { schema?: number }; points: EvalPoint[] }) : null;
  const resumable = previousReport?.meta?.schema === POINT_SCHEMA;
  if (previousReport && !resumable) log(`${store.where("results.json")} is from another report version: not resumed, every point runs again`);
  const previous: EvalPoint[] = resumable ? previousReport!.points : [];
  const done = new Map(previous.map((p) => [pointKey(p), p]));

  // The victim's answers on the test set and on the fixed query set, each computed once.
  const victimTest = await cachedFloats(store, `cache/victim-${setup.victimKey}-test.f32`, () =>
    predictAll(setup.victim, data.test.images, data.test.count, data.inputShape),
  );
  const victimAccuracy = accuracyFromProbs(victimTest, data.test.labels, K);
  const victimTestLabels = argmaxRows(victimTest, data.test.count, K);
  const fixedSample = (attack: string) => describeThief(attack).queries === "fixed-sample";
  const queries = config.attacks.some(fixedSample) ? poolQueryImages(setup, config.budget, seeds.thief) : null;
  // The query set is named by its content: pool, budget, seeds and split all change it.
  const queryTag = queries ? hashBytes(queries.images) : "none";
  const victimQueries = queries
    ? await cachedFloats(store, `cache/victim-${setup.victimKey}-queries-${queryTag}.f32`, () => predictAll(setup.victim, queries.images, queries.count, data.inputShape))
    : null;
  const measured = data.testLabels === "victim" ? "agreement with its own top-1 on the unlabeled test set (every accuracy below is fidelity)" : "test accuracy";
  log(
    `victim ${setup.victimKey}: ${measured} ${(victimAccuracy * 100).toFixed(1)} %; threat ${threat}; ` +
      (queries ? `fixed query sample: ${queries.count} of ${data.pool.count} ${data.poolName} images` : "no fixed-sample thief"),
  );

  // Every input of a setting's answers is in its key: filled-in parameters, proxy seed, victim, core build.
  const settingKey = (s: DefenseSetting) =>
    hashString(stableStringify({
      defense: s.defense, params: filledParams.get(s), secrets: secretFingerprint(s.defense, s.params), proxySeed: seeds.proxy, defenseKey: hashString(seeds.defenseKey),
      victim: setup.victimKey, core: setup.coreHash,
    }));
  const answerAlone = async (setting: DefenseSetting, images: Float32Array, count: number, victimProbs: Float32Array): Promise<AnsweredSetting> => {
    const defense = setup.createDefense(setting);
    const defended = new DefendedModel(new AnswerTable(images, victimProbs, data.inputShape, K), defense, { numClasses: K, inputShape: [...data.inputShape] });
    try {
      const answers = await predictAll(defended, images, count, data.inputShape);
      return { answers, stats: defended.stats(), defenseParams: { ...defense.params } };
    } finally {
      defended.dispose();
    }
  };
  // A setting whose defense has other settings differing only in ε answers with them in one pass
  // (sweeps.ts), once per image set ("test", "queries").
  const groups = epsilonGroups(config.settings, (s) => filledParams.get(s)!, (s) => secretFingerprint(s.defense, s.params));
  const sweeps = new Map<string, Promise<Map<DefenseSetting, AnsweredSetting> | null>>();
  const answerWith = async (setting: DefenseSetting, images: Float32Array, count: number, victimProbs: Float32Array, imageSet: string): Promise<AnsweredSetting> => {
    const group = groups.get(setting) ?? [setting];
    if (group.length < 2) return answerAlone(setting, images, count, victimProbs);
    const key = `${imageSet}:${settingKey(group[0])}`;
    let pending = sweeps.get(key);
    if (!pending) {
      pending = (async () => {
        const base = setup.createDefense(group[0]);
        try {
          if (!base.sweep) return null;
          log(`  ${group[0].defense}: ${group.length} settings (ε ${group.map((s) => filledParams.get(s)!.epsilon).join(", ")}) answer the ${imageSet === "test" ? "test set" : "fixed queries"} in one pass`);
          return await answerSwept(group, base as Defense & Required<Pick<Defense, "sweep">>, (s) => filledParams.get(s)!, new AnswerTable(images, victimProbs, data.inputShape, K), images, count);
        } finally {
          base.dispose?.();
        }
      })();
      sweeps.set(key, pending);
    }
    return (await pending)?.get(setting) ?? answerAlone(setting, images, count, victimProbs);
  };
  const testCache = new Map<string, Promise<SettingTest>>();
  const testFor = (setting: DefenseSetting): Promise<SettingTest> => {
    const key = settingKey(setting);
    let pending = testCache.get(key);
    if (!pending) {
      pending = (async () => {
        const name = `cache/defense-${setting.defense}-${key}-test.json`;
        const cached = await store.readText(name);
        if (cached) return JSON.parse(cached) as SettingTest;
        const t0 = performance.now();
        const test = await answerWith(setting, data.test.images, data.test.count, victimTest, "test");
        const result: SettingTest = {
          defenderAccuracy: accuracyFromProbs(test.answers, data.test.labels, K),
          defenseParams: publicOf(setting.defense, test.defenseParams),
          margin: top1Margins(test.answers, K),
          seconds: (performance.now() - t0) / 1000,
        };
        await store.writeText(name, JSON.stringify(result, null, 2));
        log(`  ${setting.defense} ${settingLabel(publicOf(setting.defense, setting.params))}: defender accuracy ${(result.defenderAccuracy * 100).toFixed(1)} %, ` +
          `top-1 margin ${result.margin.mean.toFixed(3)} (${(result.margin.below001 * 100).toFixed(1)} % of answers below 0.01)`);
        return result;
      })();
      testCache.set(key, pending);
    }
    return pending;
  };
  const queryCache = new Map<string, Promise<SettingQueries>>();
  const queriesFor = (setting: DefenseSetting): Promise<SettingQueries> => {
    if (!queries || !victimQueries) throw new Error("queriesFor: no fixed query set");
    const key = `${settingKey(setting)}-${queryTag}`;
    let pending = queryCache.get(key);
    if (!pending) {
      pending = (async () => {
        const answersName = `cache/answers-${setting.defense}-${key}.f32`;
        const infoName = `cache/answers-${setting.defense}-${key}.json`;
        const cachedAnswers = await store.readFloats(answersName);
        const cachedInfo = await store.readText(infoName);
        if (cachedAnswers && cachedInfo) return { answers: cachedAnswers, ...(JSON.parse(cachedInfo) as Omit<SettingQueries, "answers">) };
        const t0 = performance.now();
        const q = await answerWith(setting, queries.images, queries.count, victimQueries, `queries-${queryTag}`);
        const info = { perturbation: summarizeStats(q.stats), seconds: (performance.now() - t0) / 1000 };
        await store.writeFloats(answersName, q.answers);
        await store.writeText(infoName, JSON.stringify(info, null, 2));
        return { answers: q.answers, ...info };
      })();
      queryCache.set(key, pending);
    }
    return pending;
  };

  // Plan: every (attack, setting) point not finished yet; thieves with identical training data train once.
  type Measured = "thiefAccuracy" | "fidelity" | "queriesUsed" | "seconds" | "reusedFrom" | "l1Mean" | "l1Std" | "l2Mean" | "l2Std" | "klMean" | "klStd" |
    "top1Agreement" | "targetL1Mean" | "targetsRecovered" | "diagnostics";
  interface Pending {
    readonly base: Omit<EvalPoint, Measured>;
    readonly perturbation?: PerturbationSummary;
    readonly answerSeconds: number;
  }
  const points: EvalPoint[] = [];
  const jobs: ThiefJob[] = [];
  const waiting = new Map<number, Pending[]>(); // job id -> points it fills (the first trained, the rest reused)
  const byTraining = new Map<string, { jobId?: number; point?: EvalPoint }>();
  for (const p of previous) if (p.trainingDataHash && !p.reusedFrom) byTraining.set(p.trainingDataHash, { point: p });
  let resumed = 0;
  const planned = new Set<string>();
  let reused = 0;

  type Outcome = Pick<ThiefJobResult, "thiefAccuracy" | "fidelity" | "queriesUsed" | "seconds" | "perturbation" | "recovery" | "diagnostics">;
  const finish = (pending: Pending, result: Outcome, reusedFrom: string | null): EvalPoint => {
    const m = pending.perturbation ?? result.perturbation;
    if (!m) throw new Error(`point ${pending.base.attack}/${pending.base.defense}: no perturbation statistics`);
    return {
      ...pending.base,
      thiefAccuracy: result.thiefAccuracy,
      fidelity: result.fidelity,
      queriesUsed: result.queriesUsed,
      seconds: reusedFrom ? pending.answerSeconds : result.seconds + pending.answerSeconds,
      reusedFrom,
      l1Mean: m.l1Mean,
      l1Std: m.l1Std,
      l2Mean: m.l2Mean,
      l2Std: m.l2Std,
      klMean: m.klMean,
      klStd: m.klStd,
      top1Agreement: m.top1Agreement,
      targetL1Mean: result.recovery.l1Mean,
      targetsRecovered: result.recovery.within005,
      diagnostics: result.diagnostics,
    };
  };
  const outcomeOf = (p: EvalPoint): Outcome => ({
    ...p,
    perturbation: null,
    recovery: { rows: p.queriesUsed, l1Mean: p.targetL1Mean, within005: p.targetsRecovered },
  });
  const describe = (p: Pick<EvalPoint, "attack" | "defense" | "setting">) => `${p.attack} vs ${p.defense} ${p.setting}`;

  for (const attack of config.attacks) {
    const info = describeThief(attack);
    const replayed = info.queries === "fixed-sample";
    const thiefParams = setup.createThief(attack).params as Record<string, unknown>;
    for (const setting of config.settings) {
      const shownParams = publicOf(setting.defense, setting.params);
      const identity = {
        dataset: data.dataset,
        threat,
        attack,
        defense: setting.defense,
        params: shownParams,
        budget: config.budget,
        seed: config.seed,
        thiefParams,
        transferSet: info.data === "pool" ? data.poolName : data.seedsName ?? `${data.dataset}-heldout seeds`,
      };
      planned.add(pointKey(identity));
      const finished = done.get(pointKey(identity));
      if (finished) {
        points.push(finished);
        resumed++;
        continue;
      }
      const test = await testFor(setting);
      const fixed = replayed ? await queriesFor(setting) : undefined;
      let trainingDataHash = "";
      // Only thieves that train on the answers as given (or their argmax) can be matched before training.
      if (fixed && !info.knowsDefense) {
        const targets = thiefParams.labels === "top1" ? argmaxOneHot(fixed.answers, K) : fixed.answers;
        trainingDataHash = hashString(`${attack}|${stableStringify(thiefParams)}|${config.budget}|${seeds.thief}|${queryTag}|${setup.victimKey}|${hashBytes(targets)}`);
      }
      const pending: Pending = {
        base: {
          ...identity,
          setting: settingLabel(shownParams),
          order: setting.order,
          defenderAccuracy: test.defenderAccuracy,
          victimAccuracy,
          top1MarginMean: test.margin.mean,
          top1MarginBelow001: test.margin.below001,
          trainingDataHash,
          defenseParams: publicOf(setting.defense, test.defenseParams),
        },
        perturbation: fixed?.perturbation,
        answerSeconds: fixed?.seconds ?? 0,
      };
      const same = trainingDataHash ? byTraining.get(trainingDataHash) : undefined;
      if (same?.point) {
        points.push(finish(pending, outcomeOf(same.point), describe(same.point)));
        reused++;
        continue;
      }
      if (same?.jobId !== undefined) {
        waiting.get(same.jobId)!.push(pending);
        continue;
      }
      const id = jobs.length;
      const knowledge = { name: setting.defense, params: publicOf(setting.defense, filledParams.get(setting)!) };
      jobs.push({
        id, attack, budget: config.budget, seed: seeds.thief, setting, knowledge, answers: fixed?.answers,
        victimAnswers: fixed ? victimQueries! : undefined, victimTestLabels,
      });
      waiting.set(id, [pending]);
      if (trainingDataHash) byTraining.set(trainingDataHash, { jobId: id });
    }
  }

  // Points of thieves or settings this run does not ask for stay in the folder's report: a run with fewer
  // defenses or thieves loses nothing it finished before (points of another budget, seed or threat do not).
  const sameRun = (p: EvalPoint) => p.dataset === data.dataset && p.threat === threat && p.budget === config.budget && p.seed === config.seed;
  const kept = previous.filter((p) => sameRun(p) && !planned.has(pointKey(p)));
  points.push(...kept);
  for (const p of kept) {
    if (!order.attacks.includes(p.attack)) order.attacks.push(p.attack);
    if (!order.defenses.includes(p.defense)) order.defenses.push(p.defense);
  }
  if (kept.length) log(`${kept.length} finished points of other thieves or settings stay in ${store.where("results.json")}`);

  const meta = (): ReportMeta => ({
    schema: POINT_SCHEMA,
    dataset: data.dataset,
    preset: config.preset,
    threat,
    budget: config.budget,
    seed: config.seed,
    transferSet: data.poolName,
    victimAccuracy,
    victim: setup.userRun
      ? { key: setup.victimKey, source: setup.userRun.victim, testImages: data.test.count }
      : { key: setup.victimKey, ...config.victim, trainImages: data.victimTrain?.count ?? 0, testImages: data.test.count },
    heldOutImages: data.heldOut.count,
    ...(setup.userRun ? { user: setup.userRun } : {}),
    undefendedThieves: undefendedSummary(points),
    command: options.command,
    workers: options.workers,
    totalSeconds: (performance.now() - started) / 1000,
  });
  let writing = Promise.resolve();
  const writeReports = () => {
    const sorted = sortPoints(points, order.attacks, order.defenses);
    const m = meta();
    writing = writing.then(async () => {
      await store.writeText("results.json", toJson(sorted, m));
      await store.writeText("results.csv", toCsv(sorted));
      await store.writeText("results.md", toMarkdown(sorted, m));
    });
    return writing;
  };

  // Longest jobs first (adaptive thieves retrain every round) so the workers finish together.
  const queue = [...jobs].sort((a, b) => Number(fixedSample(a.attack)) - Number(fixedSample(b.attack)) || a.id - b.id);
  log(`${points.length} points finished or reused, ${jobs.length} thief trainings to run (${[...waiting.values()].reduce((n, w) => n + w.length, 0)} points)`);
  let trained = 0;
  const failures: FailedJob[] = [];
  const runStart = performance.now();
  await options.execute(queue, async (result) => {
    const group = waiting.get(result.id);
    if (!group) throw new Error(`unexpected job result ${result.id}`);
    const [first, ...rest] = group;
    const point = finish(first, result, null);
    points.push(point);
    for (const other of rest) {
      points.push(finish(other, result, describe(point)));
      reused++;
    }
    trained++;
    const elapsed = (performance.now() - runStart) / 1000;
    const eta = (elapsed / trained) * (jobs.length - trained);
    log(
      `[${trained}/${jobs.length}] ${describe(point)}: thief ${(point.thiefAccuracy * 100).toFixed(1)} % (fidelity ${(point.fidelity * 100).toFixed(1)} %), defender ` +
        `${(point.defenderAccuracy * 100).toFixed(1)} %, L1 ${point.l1Mean.toFixed(3)}, targets recovered ${(point.targetsRecovered * 100).toFixed(0)} % (${result.seconds.toFixed(0)} s)` +
        (rest.length ? `; reused for ${rest.length} identical run(s)` : "") +
        (trained < jobs.length ? `; ETA ${formatDuration(eta)}` : ""),
    );
    await writeReports();
  }, async (job, error) => {
    const name = `${job.attack} vs ${job.setting.defense} ${settingLabel(publicOf(job.setting.defense, job.setting.params))}`;
    failures.push(failedJob(name, error));
    log(`[failed] ${name}: ${error.message}`);
  });
  await writeReports();
  if (failures.length) throw new EvalJobsFailedError(failures);

  const sorted = sortPoints(points, order.attacks, order.defenses);
  const plots: string[] = [];
  for (const plot of await renderPlots(sorted, data.dataset)) {
    await store.writeText(`plots/${plot.name}`, plot.svg);
    plots.push(store.where(`plots/${plot.name}`));
  }
  const m = meta();
  const markdown = toMarkdown(sorted, m);
  await store.writeText("results.json", toJson(sorted, m));
  await store.writeText("results.md", markdown);
  return { points: sorted, meta: m, trained, reused, resumed, markdown, plots };
}

function secretNames(defense: string): Set<string> {
  return new Set(listDefenses().find((d) => d.name === defense)?.parameters.filter((p) => p.secret).map((p) => p.name));
}

/** The parameters a thief is told and reports show: all but those the registry declares secret (a defense outside the registry declares none). */
function publicOf(defense: string, params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const secret = secretNames(defense);
  return Object.fromEntries(Object.entries(params).filter(([name]) => !secret.has(name)));
}

/** A hash of the secret parameters a grid gives (a key, a seed), so that caches tell them apart without showing them. */
function secretFingerprint(defense: string, params: Readonly<Record<string, unknown>>): string {
  const secret = secretNames(defense);
  return hashString(stableStringify(Object.fromEntries(Object.entries(params).filter(([name]) => secret.has(name)))));
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
