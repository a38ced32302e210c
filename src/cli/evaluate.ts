// `prediction-poisoning evaluate`: thieves against defenses along parameter sweeps; writes
// results.json, results.csv, results.md and SVG plots to --out. `npm start` runs `--preset quick`.
// `--victim DIR --test PATH --transfer PATH` evaluates the user's own model on the user's data (docs/DATA.md).
import { cpus } from "node:os";
import { basename, resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { integerArg } from "./config.js";
import { presets as presetTable } from "../eval/config.js";

const list = (value: string) => value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
const fraction = (flag: string, value: string) => {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n >= 1) throw new InvalidArgumentError(`${flag}: expected a number in [0, 1), got "${value}"`);
  return n;
};

/** "knockoff:epochs=10:learningRate=0.01" -> { knockoff: { epochs: 10, learningRate: 0.01 } } */
export function parseThiefParams(entries: readonly string[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const entry of entries) {
    const [thief, ...parts] = entry.split(":");
    if (!thief || parts.length === 0) throw new InvalidArgumentError(`"${entry}" is not THIEF:PARAM=VALUE[:PARAM=VALUE...]`);
    for (const part of parts) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw new InvalidArgumentError(`"${entry}": "${part}" is not PARAM=VALUE`);
      const raw = part.slice(eq + 1);
      const value = raw === "true" ? true : raw === "false" ? false : raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
      (out[thief] ??= {})[part.slice(0, eq)] = value;
    }
  }
  return out;
}

/** The attacks with `top1` added when missing. */
export function withTop1(attacks: readonly string[]): string[] {
  return attacks.includes("top1") ? [...attacks] : [...attacks, "top1"];
}

export const evaluateCommand = new Command("evaluate")
  .description("Run thieves against defenses along parameter sweeps and report thief vs defender accuracy (tables, CSV, JSON, SVG plots).")
  .addOption(new Option("--preset <name>", "base configuration (flags below override it)").choices(Object.keys(presetTable)).default("quick"))
  .addOption(new Option("--dataset <name>", "victim dataset").choices(["mnist", "fashion-mnist"]))
  // Written out rather than read from the registries, so --help loads no model code (test/cli/evaluate-help.test.ts keeps them in step).
  .option("--attacks <list>", "thieves, comma-separated: knockoff,top1,invert,recover,smooth,unmark,jbda,jbself,jbtop3,jbtopk,jblabels (top1 is always added)", list)
  .option("--defenses <list>", "defenses, comma-separated: none,topk,rounding,labels,high-confidence,reverse-sigmoid,random-noise,mad,mad-argmax,modelguard-w,modelguard-s,grad2,adaptive-misinformation", list)
  .option("--grid <entry>", 'a defense sweep, DEFENSE:PARAM=V1,V2[:PARAM=V...], e.g. "mad:epsilon=0.1,0.5,1" (repeatable)', collect)
  .option("--thief-params <entry>", 'thief overrides, THIEF:PARAM=VALUE[:...], e.g. "knockoff:epochs=20" (repeatable)', collect)
  .option("--budget <n>", "queries per thief", integerArg(1))
  .option("--seed <n>", "seed of the thieves' choices and initialisation", integerArg(0))
  .option("--transfer <set>", "Knockoff's query pool: auto (Fashion-MNIST for MNIST when installed, else held-out images), fashion-mnist, heldout, mnist; with --victim: a path to your images")
  .option("--victim <dir>", "evaluate your own tfjs model (LayersModel or GraphModel directory) instead of training one; needs --test and --transfer (docs/DATA.md)")
  .option("--test <path>", "with --victim: the test set (labelled, or unlabeled: then fidelity to the victim is reported)")
  .option("--seeds <path>", "with --victim: the JB thieves' seed images (default: a seeded share of --test, at most --held-out images, withheld from it)")
  .addOption(new Option("--outputs <kind>", "with --victim: what the model outputs (default logits)").choices(["logits", "probabilities"]))
  .addOption(new Option("--thief-arch <arch>", "with --victim: the thieves' architecture (default: the victim's own from its victim.json, else chosen from the input shape)").choices(["lenet", "mlp", "vgg"]))
  .option("--proxy-model <dir>", "with --victim: MAD's proxy, a trained tfjs LayersModel with logits out (default: a scratch model of the thieves' architecture)")
  .option("--held-out <n>", "training images withheld from the victim (JB seeds; the held-out transfer pool); with --victim: at most this many --test images become JB seeds", integerArg(1))
  .option("--victim-epochs <n>", "epochs of the victim's training", integerArg(1))
  .option("--watermark-soft <rate>", "the watermark evaluation's soft-mark rate (default: the preset's)", (v) => fraction("--watermark-soft", v))
  .addOption(new Option("--watermark-soft-keying <how>", "the watermark evaluation's soft-mark keying (default: the preset's)").choices(["class", "input"]))
  .addOption(new Option("--watermark-label-keying <how>", "the watermark evaluation's label-mark keying (default: the preset's)").choices(["class", "input"]))
  .option("--threat <name>", "run only this one of the preset's threat settings (e.g. in-distribution)")
  .option("--watermark-out <dir>", "write the watermark evaluation here (one folder per threat setting) instead of <out>/<threat>/watermark, and skip the combined report: for variants (the matrix is still resumed from --out)")
  .option("--workers <n>", "worker threads for thief training (1 = in this thread)", integerArg(1, 64), Math.max(1, Math.min(2, cpus().length)))
  .option("--out <dir>", "output directory (default .cache/results/<dataset>-<preset>)")
  .option("--cache-dir <dir>", "where trained victims are kept", ".cache")
  .action(async (opts: {
    preset: string; dataset?: "mnist" | "fashion-mnist"; attacks?: string[]; defenses?: string[]; grid?: string[]; thiefParams?: string[];
    budget?: number; seed?: number; transfer?: string; heldOut?: number; victimEpochs?: number;
    workers: number; out?: string; cacheDir: string; watermarkSoft?: number; watermarkSoftKeying?: "class" | "input"; watermarkLabelKeying?: "class" | "input"; watermarkOut?: string; threat?: string;
    victim?: string; test?: string; seeds?: string; outputs?: "logits" | "probabilities"; thiefArch?: "lenet" | "mlp" | "vgg"; proxyModel?: string;
  }, cmd: Command) => {
    const { presets, presetSettings, parseGridEntry, threatConfigs } = await import("../eval/config.js");
    const { writeCombinedReport } = await import("../eval/combined.js");
    const { describeDefense, parseParameterStrings, publicParameters } = await import("../defenses/index.js");
    const { createThief, describeThief } = await import("../thieves/registry.js");
    const { prepareSetup } = await import("../eval/setup.js");
    const { runEvaluation, formatDuration, inThisThread } = await import("../eval/runner.js");
    const { runThiefJob } = await import("../eval/jobs.js");
    const { FileEvalStore } = await import("../node/eval-store.js");
    const { createNodeEvalEnvironment } = await import("../node/eval-environment.js");
    const { workerExecutor } = await import("../node/eval-workers.js");
    const started = performance.now();

    // Every flag is checked before any work (minutes of training the victim): a bad value is a flag
    // error naming the flag, exit code 2, like commander's own.
    const flagError = (flag: string, entry: string | undefined, e: unknown): never =>
      cmd.error(`error: ${flag}${entry === undefined ? "" : ` ${entry}`}: ${e instanceof Error ? e.message : String(e)}`, { exitCode: 2, code: "prediction-poisoning.flag" });
    const transferChoices = ["auto", "fashion-mnist", "heldout", "mnist"] as const;
    type TransferChoice = (typeof transferChoices)[number];
    if (opts.victim) {
      if (!opts.test) flagError("--victim", opts.victim, new Error("needs --test PATH (your test images)"));
      if (!opts.transfer) flagError("--victim", opts.victim, new Error("needs --transfer PATH (the images thieves query)"));
      if (opts.dataset) flagError("--dataset", opts.dataset, new Error("does not apply to --victim (your data are --test, --transfer and --seeds)"));
      if (opts.victimEpochs) flagError("--victim-epochs", String(opts.victimEpochs), new Error("applies to a victim trained here, not to --victim"));
    } else {
      const userOnly = ([["--test", opts.test], ["--seeds", opts.seeds], ["--outputs", opts.outputs], ["--thief-arch", opts.thiefArch], ["--proxy-model", opts.proxyModel]] as const)
        .find(([, v]) => v !== undefined);
      if (userOnly) flagError(userOnly[0], userOnly[1], new Error("applies to your own model only: give --victim DIR"));
      if (opts.transfer && !(transferChoices as readonly string[]).includes(opts.transfer)) {
        flagError("--transfer", opts.transfer, new Error(`expected one of ${transferChoices.join(", ")} (a path to your images needs --victim)`));
      }
    }
    const base = presets[opts.preset].config;
    const grid: Record<string, Record<string, unknown[]>> = {};
    for (const [defense, axes] of Object.entries(base.grid)) grid[defense] = Object.fromEntries(Object.entries(axes).map(([k, v]) => [k, [...v]]));
    const defenses = opts.defenses ?? [...base.defenses];
    for (const name of defenses) {
      try {
        describeDefense(name);
      } catch (e) {
        flagError("--defenses", undefined, e);
      }
    }
    for (const name of opts.attacks ?? []) {
      try {
        describeThief(name);
      } catch (e) {
        flagError("--attacks", undefined, e);
      }
    }
    for (const entry of opts.grid ?? []) {
      try {
        const { defense, params } = parseGridEntry(entry);
        if (!defenses.includes(defense)) throw new Error(`"${defense}" is not among the defenses (${defenses.join(", ")})`);
        // Each value goes through the defense's own parameter parser: "0.5" -> 0.5, unknown names rejected.
        const axes: Record<string, unknown[]> = Object.fromEntries(
          Object.entries(params).map(([name, values]) => [name, values.map((value) => parseParameterStrings(defense, { [name]: value })[name])]),
        );
        // ... and every combination through its validation (epsilon >= 0, ...).
        for (const setting of presetSettings([defense], { [defense]: axes })) publicParameters(defense, setting.params);
        grid[defense] = axes;
      } catch (e) {
        flagError("--grid", entry, e);
      }
    }
    let thiefOverrides: Record<string, Record<string, unknown>> = {};
    try {
      thiefOverrides = parseThiefParams(opts.thiefParams ?? []);
    } catch (e) {
      flagError("--thief-params", undefined, e);
    }
    const thiefParams: Record<string, Record<string, unknown>> = {};
    for (const attack of new Set([...Object.keys(base.thiefParams), ...Object.keys(thiefOverrides)])) {
      thiefParams[attack] = { ...(base.thiefParams[attack] ?? {}), ...(thiefOverrides[attack] ?? {}) };
    }
    // Each thief built with its parameters now (construction only validates them; no model is made).
    const noDeps = { buildSubstitute: () => { throw new Error("not available while checking parameters"); } };
    for (const attack of new Set([...withTop1(opts.attacks ?? [...base.attacks]), ...Object.keys(thiefOverrides)])) {
      try {
        createThief(attack, thiefParams[attack] ?? {}, noDeps);
      } catch (e) {
        const given = (opts.thiefParams ?? []).filter((entry) => entry.split(":")[0] === attack);
        flagError("--thief-params", given.length > 0 ? given.join(" ") : undefined, e);
      }
    }
    const { grid: _g, defenses: _d, extraSettings, ...rest } = base;
    // An explicit --transfer (or --attacks, --budget) asks for one run, not the preset's threat settings.
    const threats = opts.transfer || opts.attacks || opts.budget ? undefined : presets[opts.preset].threats;
    const log = (message: string) => console.log(`[${formatDuration((performance.now() - started) / 1000).padStart(6)}] ${message}`);
    let settings = presetSettings(defenses, grid, extraSettings);
    if (opts.victim) {
      // Their models are trained on the victim's training data, which a victim trained elsewhere does not come with.
      const { defensesNeedingTrainingData } = await import("../eval/defense-models.js");
      const left = defensesNeedingTrainingData(settings);
      if (left.length > 0) {
        if (left.length === new Set(settings.map((s) => s.defense)).size) {
          flagError("--defenses", undefined, new Error(`${left.join(", ")} need models trained on the victim's training data, which --victim does not come with; choose others`));
        }
        log(`left out ${left.join(", ")}: they need models trained on the victim's training data (GRAD²'s surrogate, Adaptive Misinformation's scorer and misinformation model), which --victim does not come with`);
        settings = settings.filter((s) => !left.includes(s.defense));
      }
    }
    const config = {
      ...rest,
      dataset: opts.victim ? ("user" as const) : opts.dataset ?? base.dataset,
      // Every evaluation reports the label-only thief: no label-preserving defense can touch it.
      attacks: withTop1(opts.attacks ?? [...base.attacks]),
      settings,
      budget: opts.budget ?? base.budget,
      seed: opts.seed ?? base.seed,
      transfer: opts.victim ? base.transfer : ((opts.transfer as TransferChoice | undefined) ?? base.transfer),
      heldOutSize: opts.heldOut ?? base.heldOutSize,
      victim: { ...base.victim, epochs: opts.victimEpochs ?? base.victim.epochs },
      thiefParams,
      preset: opts.preset,
      ...(opts.victim
        ? {
            threat: "user-transfer",
            user: {
              victim: resolve(opts.victim), outputs: opts.outputs ?? "logits", test: resolve(opts.test!), transfer: resolve(opts.transfer!),
              seeds: opts.seeds && resolve(opts.seeds), thiefArch: opts.thiefArch, proxyModel: opts.proxyModel && resolve(opts.proxyModel),
            },
          }
        : {}),
    };
    const outName = opts.victim ? `${basename(resolve(opts.victim))}-user` : `${config.dataset}-${opts.preset}`;
    const out = resolve(opts.out ?? `${opts.cacheDir}/results/${outName}`);
    const allRuns = threatConfigs(config, threats);
    const runs = opts.threat ? allRuns.filter((r) => r.threat === opts.threat) : allRuns;
    if (runs.length === 0) cmd.error(`error: --threat ${opts.threat}: the preset's threat settings are ${allRuns.map((r) => r.threat ?? "(one, unnamed)").join(", ")}`, { exitCode: 2 });
    const command = `prediction-poisoning ${process.argv.slice(2).join(" ")}`;
    log(
      `evaluate: preset ${opts.preset}, ${runs.map((r) => `${r.threat ?? r.transfer}: ${r.attacks.length} thieves x ${r.settings.length} defense settings, budget ${r.budget}`).join("; ")}, ` +
        `${opts.workers} worker(s); output ${out}`,
    );

    const env = await createNodeEvalEnvironment({ cacheDir: resolve(opts.cacheDir), log });
    const finished: { folder: string; summary: Awaited<ReturnType<typeof runEvaluation>>; watermark?: string }[] = [];
    const presetWatermark = threats ? presets[opts.preset].watermark : undefined;
    if (!presetWatermark && (opts.watermarkSoft !== undefined || opts.watermarkSoftKeying || opts.watermarkLabelKeying || opts.watermarkOut)) {
      cmd.error(`error: --watermark-soft, --watermark-soft-keying, --watermark-label-keying and --watermark-out apply to a preset with a watermark evaluation (protection), not to ${opts.preset} with these flags`, { exitCode: 2 });
    }
    const watermark = presetWatermark && {
      ...presetWatermark,
      ...(opts.watermarkSoft !== undefined ? { softRate: opts.watermarkSoft } : {}),
      ...(opts.watermarkSoftKeying ? { softKeying: opts.watermarkSoftKeying } : {}),
      ...(opts.watermarkLabelKeying ? { labelKeying: opts.watermarkLabelKeying } : {}),
    };
    for (const runConfig of runs) {
      const folder = allRuns.length > 1 ? runConfig.threat! : ".";
      if (allRuns.length > 1) log(`threat setting ${runConfig.threat}: pool ${runConfig.transfer}, budget ${runConfig.budget}, thieves ${runConfig.attacks.join(", ")}`);
      const setup = await prepareSetup(runConfig, env, { trainVictim: true });
      const execute =
        opts.workers > 1
          ? workerExecutor({ config: runConfig, cacheDir: resolve(opts.cacheDir) }, opts.workers)
          : inThisThread((job) => runThiefJob(job, setup));
      const summary = await runEvaluation({
        setup,
        store: new FileEvalStore(resolve(out, folder)),
        execute,
        log,
        command,
        workers: opts.workers,
        startedAt: started,
      });
      let watermarkMarkdown: string | undefined;
      if (watermark) {
        const { runWatermarkEvaluation } = await import("../eval/watermark-eval.js");
        const where = opts.watermarkOut ? resolve(opts.watermarkOut, folder) : resolve(out, folder, "watermark");
        const marks = await runWatermarkEvaluation({ setup, store: new FileEvalStore(where), execute, log, evaluation: watermark, command });
        watermarkMarkdown = marks.markdown;
      }
      finished.push({ folder, summary, watermark: watermarkMarkdown });
    }
    const seconds = (performance.now() - started) / 1000;
    if (opts.watermarkOut) {
      console.log("");
      for (const f of finished) console.log(f.watermark!.trimEnd(), "\n");
      console.log(`Watermark evaluation: ${resolve(opts.watermarkOut)} (the combined report in ${out} is not rewritten)`);
      return;
    }
    let markdown: string;
    let plots: number;
    if (finished.length > 1) {
      const combined = await writeCombinedReport(new FileEvalStore(out), finished, { preset: opts.preset, command, totalSeconds: seconds });
      markdown = combined.markdown;
      plots = combined.plots.length;
    } else {
      const { summary } = finished[0];
      markdown = summary.markdown.slice(0, summary.markdown.indexOf("All points:"));
      plots = summary.plots.length;
    }
    // The headline and the compact table (one row per defense setting); every point is in results.md.
    console.log("");
    console.log(markdown.trimEnd());
    console.log("");
    const total = (key: "trained" | "reused" | "resumed") => finished.reduce((n, f) => n + f.summary[key], 0);
    console.log(`Trained ${total("trained")} thieves, reused ${total("reused")} identical runs, resumed ${total("resumed")} finished points.`);
    console.log(`Results: ${out}/results.json, results.csv, results.md (every point${finished.length > 1 ? ": in each threat setting's folder" : ""})`);
    console.log(`Plots:   ${out}/plots/ (${plots} SVG files)`);
    console.log(`Wall time: ${formatDuration(seconds)}`);
  });
