// `prediction-poisoning evaluate-detection --out docs/results/detection`: how many queries each Jacobian
// thief makes before PRADA flags it, the false-positive rate on honest clients, and what it does against
// Knockoff with natural images (Fashion-MNIST). Drives the service's own detection code in process with each
// client's real query stream (src/eval/detection.ts) against the demo victim (`serve --model demo`: the
// MNIST LeNet, trained on first use and cached). Writes results.json and results.md.
import { Command, InvalidArgumentError } from "commander";
import { integerArg } from "./config.js";

const list = (value: string) => value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
const seedList = (value: string) =>
  list(value).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected seeds as non-negative integers, got "${s}"`);
    return n;
  });
function deltaArg(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError("expected a number in (0, 1)");
  return n;
}

interface DetectFlags {
  out: string;
  cacheDir?: string;
  fashionMnistDir?: string;
  seed: number;
  honestClients: number;
  honestQueries: number;
  honestBatch: number;
  thieves: string[];
  thiefSeeds: number[];
  thiefBudget: number;
  thiefEpochs: number;
  knockoffSeeds: number[];
  knockoffBudget: number;
  delta: number;
  maxGrowing: number;
  maxDistances: number;
}

export const detectCommand = new Command("evaluate-detection")
  .description("measure PRADA (serve --detect prada): queries until each Jacobian thief is flagged, false positives on honest clients, Knockoff with Fashion-MNIST")
  .option("--out <dir>", "where results.json and results.md go", "docs/results/detection")
  .option("--cache-dir <dir>", "where the demo victim is cached (default $PREDICTION_POISONING_CACHE or ~/.cache/prediction-poisoning)")
  .option("--fashion-mnist-dir <dir>", "the Fashion-MNIST *-ubyte.gz files (default: the Debian package's)")
  .option("--seed <n>", "seed of the honest clients' orders", integerArg(0, 2 ** 32 - 1), 0)
  .option("--honest-clients <n>", "honest clients", integerArg(1, 10_000), 50)
  .option("--honest-queries <n>", "distinct test digits each honest client sends (at most 2,000)", integerArg(1, 2000), 1000)
  .option("--honest-batch <n>", "inputs per honest request", integerArg(1, 256), 16)
  .option("--thieves <list>", "Jacobian thieves, comma-separated", list, ["jbda", "jbself", "jbtop3"])
  .option("--thief-seeds <list>", "seeds of each thief, comma-separated", seedList, [0, 1, 2, 3, 4])
  .option("--thief-budget <n>", "queries per Jacobian thief", integerArg(101), 1600)
  .option("--thief-epochs <n>", "epochs of the thieves' substitute training each round", integerArg(1), 10)
  .option("--knockoff-seeds <list>", "seeds of Knockoff's samples, comma-separated", seedList, [0, 1, 2, 3, 4])
  .option("--knockoff-budget <n>", "queries per Knockoff run", integerArg(101), 5000)
  .option("--delta <w>", "PRADA's δ", deltaArg, 0.9)
  .option("--max-growing <n>", "PRADA: inputs kept per class in G_c", integerArg(1), 100)
  .option("--max-distances <n>", "PRADA: distances kept per class in D_c", integerArg(10), 500)
  .action(async (flags: DetectFlags, command: Command) => {
    const { mkdirSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { resolvePradaOptions } = await import("../defenses/prada.js");
    const { evaluateDetection, detectionReport } = await import("../eval/detection.js");
    const { describeThief } = await import("../thieves/registry.js");
    const { loadMnist } = await import("../models/datasets.js");
    const { loadFashionMnist } = await import("../node/fashion-mnist.js");
    const { ensureDemoModel } = await import("../service/node/demo-model.js");
    const { loadLayersModelFromDir } = await import("../node/model-files.js");
    const { TfjsClassifier } = await import("../models/tfjs-model.js");
    const log = (line: string) => console.error(line);
    for (const t of flags.thieves) {
      if (describeThief(t).data !== "seeds") command.error(`error: --thieves: ${t} is not a Jacobian-style thief (jbda, jbself, jbtop3, jbtopk)`, { exitCode: 2 });
    }
    const started = performance.now();
    const demo = await ensureDemoModel({ cacheDir: flags.cacheDir, log });
    const victim = new TfjsClassifier(await loadLayersModelFromDir(demo.dir), { outputs: "logits" });
    const { test } = loadMnist({ seed: 0 }); // the demo victim's held-out digits
    const fashion = loadFashionMnist({ dir: flags.fashionMnistDir }).train;
    const config = {
      seed: flags.seed,
      prada: resolvePradaOptions({ delta: flags.delta, maxGrowing: flags.maxGrowing, maxDistances: flags.maxDistances }),
      honest: { clients: flags.honestClients, queries: flags.honestQueries, batch: flags.honestBatch },
      thieves: flags.thieves,
      thiefSeeds: flags.thiefSeeds,
      thiefBudget: flags.thiefBudget,
      thiefParams: { epochs: flags.thiefEpochs, finalEpochs: 1 },
      knockoffSeeds: flags.knockoffSeeds,
      knockoffBudget: flags.knockoffBudget,
    };
    const result = await evaluateDetection(
      config,
      {
        victim,
        digits: { images: test.images, count: test.count, inputShape: test.inputShape },
        pool: { images: fashion.images, count: fashion.count, inputShape: fashion.inputShape },
      },
      log,
    );
    victim.dispose();
    const commandLine = `prediction-poisoning evaluate-detection ${process.argv.slice(3).join(" ")}`.trim();
    const victimText = `the demo MNIST LeNet (held-out accuracy ${(demo.testAccuracy * 100).toFixed(1)} %)`;
    mkdirSync(flags.out, { recursive: true });
    writeFileSync(
      join(flags.out, "results.json"),
      JSON.stringify({ command: commandLine, date: new Date().toISOString(), victim: victimText, config, ...result, seconds: (performance.now() - started) / 1000 }, null, 1) + "\n",
    );
    writeFileSync(join(flags.out, "results.md"), detectionReport(config, { ...result, seconds: (performance.now() - started) / 1000 }, { command: commandLine, victim: victimText }));
    log(`wrote ${join(flags.out, "results.json")} and results.md in ${((performance.now() - started) / 60000).toFixed(1)} min`);
  });
