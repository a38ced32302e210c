// The attack-versus-defense runner. Work that is the same runs once: the victim answers each fixed
// query set once (cached in the output directory), each defense setting answers it once for every
// pool thief, a thief whose training targets are identical to an earlier run's is not retrained (the
// top-1 thief against every label-preserving defense), and finished points are never recomputed.
import { DefendedModel } from "../defenses/index.js";
import { describeThief } from "../thieves/registry.js";
import { argmaxOneHot } from "../thieves/thief.js";
import { AnswerTable, predictAll } from "./black-box.js";
import type { DefenseSetting } from "./config.js";
import { hashBytes, hashString, stableStringify } from "./hash.js";
import { poolQueryImages, type ThiefJob, type ThiefJobResult } from "./jobs.js";
import { accuracyFromProbs, summarizeStats, type PerturbationSummary } from "./metrics.js";
import { renderPlots } from "./plot.js";
import { pointKey, settingLabel, type EvalPoint } from "./point.js";
import { sortPoints, toCsv, toJson, toMarkdown, undefendedSummary, type ReportMeta } from "./report.js";
import type { EvalSetup } from "./setup.js";

/** The output directory, abstracted (Node: files under --out). Names may contain "/". */
export interface EvalStore {
  readText(name: string): Promise<string | null>;
  writeText(name: string, text: string): Promise<void>;
  readFloats(name: string): Promise<Float32Array | null>;
  writeFloats(name: string, data: Float32Array): Promise<void>;
  /** Human-readable location of a name, for logs. */
  where(name: string): string;
}

/** Runs jobs (in worker threads or in this thread) and reports each result as it finishes. */
export type JobExecutor = (jobs: readonly ThiefJob[], onResult: (result: ThiefJobResult) => Promise<void>) => Promise<void>;

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

interface SettingAnswers {
  readonly defenderAccuracy: number;
  readonly defenseParams: Record<string, unknown>;
  /** Pool thieves' fixed query set, answered by this setting. */
  readonly answers?: Float32Array;
  readonly perturbation?: PerturbationSummary;
  readonly seconds: number;
}

export async function runEvaluation(options: RunOptions): Promise<RunSummary> {
  const { setup, store, log } = options;
  const { config, data } = setup;
  const K = data.numClasses;
  const started = options.startedAt ?? performance.now();
  const order = { attacks: [...config.attacks], defenses: [...new Set(config.settings.map((s) => s.defense))] };
  // Fail early on an unknown name or a bad parameter, before any answering or training.
  for (const attack of config.attacks) describeThief(attack);
  for (const setting of config.settings) setup.createDefense(setting).dispose?.();

  const previousText = await store.readText("results.json");
  const previous: EvalPoint[] = previousText ? (JSON.parse(previousText) as { points: EvalPoint[] }).points : [];
  const done = new Map(previous.map((p) => [pointKey(p), p]));

  // The victim's answers on the test set and on the pool thieves' query set, each computed once.
  const victimTest = await cachedFloats(store, `cache/victim-${setup.victimKey}-test.f32`, () =>
    predictAll(setup.victim, data.test.images, data.test.count, data.inputShape),
  );
  const victimAccuracy = accuracyFromProbs(victimTest, data.test.labels, K);
  const poolAttacks = config.attacks.filter((a) => describeThief(a).data === "pool");
  const queries = poolAttacks.length > 0 ? poolQueryImages(setup, config.budget, config.seed) : null;
  const queryTag = `${data.poolName}-${config.budget}-${config.seed}`;
  const victimQueries = queries
    ? await cachedFloats(store, `cache/victim-${setup.victimKey}-${queryTag}.f32`, () => predictAll(setup.victim, queries.images, queries.count, data.inputShape))
    : null;
  log(
    `victim ${setup.victimKey}: test accuracy ${(victimAccuracy * 100).toFixed(1)} %; ` +
      (queries ? `Knockoff transfer set: ${data.poolName} (${queries.count} of ${data.pool.count} images)` : "no pool thief"),
  );

  // One defense setting's answers: the test set (defender accuracy) and the fixed query set, cached.
  const settingKey = (s: DefenseSetting) => hashString(stableStringify({ defense: s.defense, params: s.params, proxySeed: config.proxySeed, victim: setup.victimKey }));
  const settingCache = new Map<string, Promise<SettingAnswers>>();
  const answersFor = (setting: DefenseSetting): Promise<SettingAnswers> => {
    const key = settingKey(setting);
    let pending = settingCache.get(key);
    if (!pending) {
      pending = (async () => {
        const t0 = performance.now();
        const infoName = `cache/defense-${setting.defense}-${key}.json`;
        const answersName = `cache/answers-${setting.defense}-${key}-${queryTag}.f32`;
        const infoText = await store.readText(infoName);
        const info = infoText ? (JSON.parse(infoText) as Omit<SettingAnswers, "answers">) : null;
        const cachedAnswers = queries ? await store.readFloats(answersName) : null;
        if (info && (!queries || cachedAnswers)) return { ...info, answers: cachedAnswers ?? undefined };

        // Replay the victim's cached answers through the defense: the defense sees the same inputs and y.
        const answerWith = async (images: Float32Array, count: number, victimProbs: Float32Array) => {
          const defense = setup.createDefense(setting);
          const defended = new DefendedModel(new AnswerTable(images, victimProbs, data.inputShape, K), defense, { numClasses: K, inputShape: [...data.inputShape] });
          try {
            const answers = await predictAll(defended, images, count, data.inputShape);
            return { answers, stats: defended.stats(), defenseParams: { ...defense.params } };
          } finally {
            defended.dispose();
          }
        };
        const test = await answerWith(data.test.images, data.test.count, victimTest);
        const defenderAccuracy = accuracyFromProbs(test.answers, data.test.labels, K);
        let answers: Float32Array | undefined;
        let perturbation: PerturbationSummary | undefined;
        if (queries && victimQueries) {
          const q = await answerWith(queries.images, queries.count, victimQueries);
          answers = q.answers;
          perturbation = summarizeStats(q.stats);
          await store.writeFloats(answersName, answers);
        }
        const result = { defenderAccuracy, defenseParams: test.defenseParams, perturbation, seconds: (performance.now() - t0) / 1000 };
        await store.writeText(infoName, JSON.stringify(result, null, 2));
        log(`  ${setting.defense} ${settingLabel(setting.params)}: defender accuracy ${(defenderAccuracy * 100).toFixed(1)} %` +
          (perturbation ? `, mean L1 ${perturbation.l1Mean.toFixed(3)} on the transfer set` : ""));
        return { ...result, answers };
      })();
      settingCache.set(key, pending);
    }
    return pending;
  };

  // Plan: every (attack, setting) point not finished yet; pool thieves with identical targets train once.
  interface Pending {
    readonly base: Omit<EvalPoint, "thiefAccuracy" | "queriesUsed" | "seconds" | "reusedFrom" | "l1Mean" | "l1Std" | "l2Mean" | "l2Std" | "klMean" | "klStd" | "top1Agreement">;
    readonly perturbation?: PerturbationSummary;
    readonly answerSeconds: number;
  }
  const points: EvalPoint[] = [];
  const jobs: ThiefJob[] = [];
  const waiting = new Map<number, Pending[]>(); // job id -> points it fills (the first trained, the rest reused)
  const byTraining = new Map<string, { jobId?: number; point?: EvalPoint }>();
  for (const p of previous) if (p.trainingDataHash && !p.reusedFrom) byTraining.set(p.trainingDataHash, { point: p });
  let resumed = 0;
  let reused = 0;

  const finish = (pending: Pending, result: { thiefAccuracy: number; queriesUsed: number; seconds: number; perturbation: PerturbationSummary | null }, reusedFrom: string | null): EvalPoint => {
    const m = pending.perturbation ?? result.perturbation;
    if (!m) throw new Error(`point ${pending.base.attack}/${pending.base.defense}: no perturbation statistics`);
    return {
      ...pending.base,
      thiefAccuracy: result.thiefAccuracy,
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
    };
  };
  const describe = (p: Pick<EvalPoint, "attack" | "defense" | "setting">) => `${p.attack} vs ${p.defense} ${p.setting}`;

  for (const attack of config.attacks) {
    const isPool = describeThief(attack).data === "pool";
    const thiefParams = setup.createThief(attack).params as Record<string, unknown>;
    for (const setting of config.settings) {
      const identity = {
        dataset: data.dataset,
        attack,
        defense: setting.defense,
        params: setting.params,
        budget: config.budget,
        seed: config.seed,
        thiefParams,
        transferSet: isPool ? data.poolName : `${data.dataset}-heldout seeds`,
      };
      const finished = done.get(pointKey(identity));
      if (finished) {
        points.push(finished);
        resumed++;
        continue;
      }
      const answers = await answersFor(setting);
      let trainingDataHash = "";
      if (isPool && answers.answers) {
        const targets = attack === "top1" || thiefParams.labels === "top1" ? argmaxOneHot(answers.answers, K) : answers.answers;
        trainingDataHash = hashString(`${attack}|${stableStringify(thiefParams)}|${config.budget}|${config.seed}|${data.poolName}|${setup.victimKey}|${hashBytes(targets)}`);
      }
      const pending: Pending = {
        base: {
          ...identity,
          setting: settingLabel(setting.params),
          order: setting.order,
          defenderAccuracy: answers.defenderAccuracy,
          victimAccuracy,
          trainingDataHash,
          defenseParams: answers.defenseParams,
        },
        perturbation: isPool ? answers.perturbation : undefined,
        answerSeconds: isPool ? answers.seconds : 0,
      };
      const same = trainingDataHash ? byTraining.get(trainingDataHash) : undefined;
      if (same?.point) {
        points.push(finish(pending, { ...same.point, perturbation: null }, describe(same.point)));
        reused++;
        continue;
      }
      if (same?.jobId !== undefined) {
        waiting.get(same.jobId)!.push(pending);
        continue;
      }
      const id = jobs.length;
      jobs.push({ id, attack, budget: config.budget, seed: config.seed, setting, answers: isPool ? answers.answers : undefined });
      waiting.set(id, [pending]);
      if (trainingDataHash) byTraining.set(trainingDataHash, { jobId: id });
    }
  }

  const meta = (): ReportMeta => ({
    dataset: data.dataset,
    preset: config.preset,
    budget: config.budget,
    transferSet: data.poolName,
    victimAccuracy,
    victim: { key: setup.victimKey, ...config.victim, trainImages: data.victimTrain.count, testImages: data.test.count },
    heldOutImages: data.heldOut.count,
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
  const queue = [...jobs].sort((a, b) => Number(describeThief(a.attack).data === "pool") - Number(describeThief(b.attack).data === "pool") || a.id - b.id);
  log(`${points.length} points finished or reused, ${jobs.length} thief trainings to run (${[...waiting.values()].reduce((n, w) => n + w.length, 0)} points)`);
  let trained = 0;
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
      `[${trained}/${jobs.length}] ${describe(point)}: thief ${(point.thiefAccuracy * 100).toFixed(1)} %, defender ` +
        `${(point.defenderAccuracy * 100).toFixed(1)} %, L1 ${point.l1Mean.toFixed(3)} (${result.seconds.toFixed(0)} s)` +
        (rest.length ? `; reused for ${rest.length} identical run(s)` : "") +
        (trained < jobs.length ? `; ETA ${formatDuration(eta)}` : ""),
    );
    await writeReports();
  });
  await writeReports();

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

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
