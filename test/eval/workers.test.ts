// The Node worker-thread executor: jobs run on two worker threads (each with its own backend, data and
// the victim loaded from the cache) give exactly the points the in-process executor gives.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expandGrid, type EvalConfig } from "../../src/eval/config.js";
import { runThiefJob, type ThiefJob, type ThiefJobResult } from "../../src/eval/jobs.js";
import { inThisThread, runEvaluation } from "../../src/eval/runner.js";
import { prepareSetup } from "../../src/eval/setup.js";
import { createNodeEvalEnvironment } from "../../src/node/eval-environment.js";
import { FileEvalStore } from "../../src/node/eval-store.js";
import { workerExecutor } from "../../src/node/eval-workers.js";

const cacheDir = mkdtempSync(join(tmpdir(), "pp-workers-"));
const config: EvalConfig = {
  dataset: "mnist",
  attacks: ["knockoff", "jbda"],
  settings: expandGrid(["none", "reverse-sigmoid"], { "reverse-sigmoid": { beta: [0.5] } }),
  budget: 60,
  seed: 3,
  transfer: "heldout",
  heldOutSize: 7000,
  victim: { arch: "mlp", epochs: 1, batchSize: 64, learningRate: 0.05, momentum: 0.5 },
  thiefParams: {
    knockoff: { epochs: 1 },
    jbda: { epochs: 1, finalEpochs: 1, seedSize: 20 },
  },
};

test("worker threads compute the same points as the in-process executor, and write the reports", async () => {
  try {
    const env = await createNodeEvalEnvironment({ cacheDir, log: () => {} });
    const setup = await prepareSetup(config, env, { trainVictim: true });
    const seen: ThiefJob[] = [];
    const local = await runEvaluation({
      setup,
      store: new FileEvalStore(join(cacheDir, "local")),
      log: () => {},
      execute: inThisThread((job) => {
        seen.push(job);
        return runThiefJob(job, setup);
      }),
    });
    const threaded = await runEvaluation({
      setup,
      store: new FileEvalStore(join(cacheDir, "threaded")),
      log: () => {},
      execute: workerExecutor({ config, cacheDir }, 2),
    });
    assert.is(threaded.trained, 4);
    const view = (s: typeof local) => s.points.map((p) => [p.attack, p.defense, p.thiefAccuracy, p.fidelity, p.queriesUsed, p.l1Mean, p.targetL1Mean]);
    assert.equal(view(threaded), view(local));
    // Per thief against defender accuracy and L1, and the worst case.
    assert.is(threaded.plots.length, 2 * 2 + 1);

    // A job that fails in a thread is reported as a failure; the other jobs still run.
    const results: ThiefJobResult[] = [];
    const failures: [ThiefJob, Error][] = [];
    const bad: ThiefJob = { ...seen[0], attack: "no-such-thief" };
    await workerExecutor({ config, cacheDir }, 2)([bad, seen[1]], async (r) => void results.push(r), async (job, e) => void failures.push([job, e]));
    assert.is(results.length, 1);
    assert.is(failures.length, 1);
    assert.is(failures[0][0], bad);
    assert.match(failures[0][1].message, /no-such-thief/);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

test.run();
