import { test } from "uvu";
import * as assert from "uvu/assert";
import { createThief, describeThief, thiefNames } from "../../src/thieves/registry.js";
import { tinyDeps } from "./helpers.js";

test("every registered thief is created with the reference defaults filled in", () => {
  const names = thiefNames();
  for (const name of ["knockoff", "top1", "jbda", "jbself", "jbtop3"]) assert.ok(names.includes(name), name);
  const knockoff = createThief("knockoff", {}, tinyDeps());
  assert.equal(
    { epochs: knockoff.params.epochs, lr: knockoff.params.learningRate, momentum: knockoff.params.momentum, batch: knockoff.params.batchSize },
    { epochs: 30, lr: 0.01, momentum: 0.5, batch: 64 },
  );
  const jbda = createThief("jbda", {}, tinyDeps());
  assert.equal(
    [jbda.params.seedSize, jbda.params.epochs, jbda.params.learningRate, jbda.params.momentum, jbda.params.weightDecay, jbda.params.lambda, jbda.params.tau, jbda.params.finalEpochs],
    [100, 20, 0.1, 0.9, 5e-4, 0.1, 5, 100],
  );
  const top3 = createThief("jbtop3", {}, tinyDeps());
  assert.is(top3.name, "jbtop3");
  assert.is(top3.params.k, 3);
  assert.is(createThief("top1", {}, tinyDeps()).params.labels, "top1");
  assert.is(describeThief("jbtop3").data, "seeds");
  assert.is(describeThief("knockoff").data, "pool");
});

test("unknown thieves and bad parameters are rejected with the thief and parameter named", () => {
  assert.throws(() => createThief("nope", {}, tinyDeps()), /unknown thief "nope"/);
  assert.throws(() => createThief("knockoff", { epochs: 0 }, tinyDeps()), /thief "knockoff": parameter "epochs"/);
  assert.throws(() => createThief("knockoff", { lr: 0.1 }, tinyDeps()), /thief "knockoff": parameter "lr"/);
  assert.throws(() => createThief("jbda", { lambda: -1 }, tinyDeps()), /parameter "lambda"/);
  assert.throws(() => createThief("jbtop3", { k: 2 }, tinyDeps()), /"k" is fixed to 3/);
  assert.throws(() => createThief("top1", { labels: "soft" }, tinyDeps()), /"labels" is fixed/);
});

test.run();
