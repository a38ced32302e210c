// A user run's data without files: prepareUserData with in-memory sources. An unlabeled test set takes the
// victim's top-1 as labels; the JB seeds come from --seeds, or a seeded share of the test set withheld from
// it (only when a JB thief runs); the report says what was used; defenses needing training data are refused.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { prepareUserData, type UserDataSources, type UserImages, type UserVictim } from "../../src/eval/data.js";
import { prepareSetup, type EvalEnvironment } from "../../src/eval/setup.js";
import { toMarkdown } from "../../src/eval/report.js";
import type { EvalConfig } from "../../src/eval/config.js";
import type { LabeledImages } from "../../src/models/labeled-images.js";

const shape = [2, 2, 1];
/** Image i is filled with i / count, so images can be told apart after shuffles. */
function labelled(name: string, count: number, classMajor = true): LabeledImages {
  const images = new Float32Array(count * 4);
  for (let i = 0; i < count; i++) images.fill(i / count, i * 4, (i + 1) * 4);
  const labels = Int32Array.from({ length: count }, (_, i) => (classMajor ? Math.floor((i * 3) / count) : i % 3));
  return { name, images, labels, count, inputShape: shape, numClasses: 3 };
}

/** The victim answers class 2 for bright images (mean > 0.5), else class 0. */
const victim: UserVictim = {
  model: {
    inputShape: shape,
    numClasses: 3,
    async predict(batch) {
      const out = new Float32Array(batch.batchSize * 3);
      for (let b = 0; b < batch.batchSize; b++) out[b * 3 + (batch.data[b * 4] > 0.5 ? 2 : 0)] = 1;
      return out;
    },
  },
  hash: "0123",
  name: "toy",
  description: "a toy victim",
};

function sources(files: Record<string, UserImages>): UserDataSources {
  return {
    victim: async () => victim,
    images: async (ref) => {
      const found = files[ref];
      if (!found) throw new Error(`${ref}: does not exist`);
      return found;
    },
    layersModel: async () => {
      throw new Error("no proxy models here");
    },
  };
}

const unlabeled = (name: string, count: number): UserImages => {
  const { images } = labelled(name, count);
  return { kind: "unlabeled", data: { name, images, count, inputShape: shape }, path: `/data/${name}`, format: "unlabeled-folder" };
};
const files: Record<string, UserImages> = {
  test: { kind: "labeled", data: labelled("test", 30), path: "/data/test", format: "image-folder" },
  open: unlabeled("open", 10),
  pool: unlabeled("pool", 50),
  seeds: unlabeled("seeds", 7),
  tiny: unlabeled("tiny", 4),
};
const user = { victim: "v", outputs: "logits" as const, test: "test", transfer: "pool" };

test("labelled test set; JB seeds a seeded share of it, withheld; no JB thief, no seeds", async () => {
  const d = await prepareUserData({ attacks: ["knockoff", "jbtop3"], heldOutSize: 100, seed: 0, user }, sources(files), victim);
  assert.is(d.testLabels, "given");
  assert.is(d.victimTrain, null);
  // At most a fifth of the test set.
  assert.is(d.heldOut.count, 6);
  assert.is(d.test.count, 24);
  assert.is(d.pool.count, 50);
  assert.is(d.poolName, "pool");
  assert.is(d.seedsName, "test seeds");
  assert.match(d.described!.seeds, /6 images of the test set \(seeded choice\), withheld from it: the test set keeps 24/);
  // Seeded, not the last images: the test set is class-major.
  const seedValues = Array.from({ length: 6 }, (_, i) => d.heldOut.images[i * 4]);
  assert.ok(seedValues.some((v) => v < 0.8), `seeds ${seedValues}`);
  const testValues = new Set(Array.from({ length: 24 }, (_, i) => d.test.images[i * 4]));
  for (const v of seedValues) assert.not.ok(testValues.has(v), "a seed stays in the test set");
  const again = await prepareUserData({ attacks: ["jbtop3"], heldOutSize: 100, seed: 0, user }, sources(files), victim);
  assert.equal(Array.from(again.heldOut.images), Array.from(d.heldOut.images));
  const capped = await prepareUserData({ attacks: ["jbtop3"], heldOutSize: 2, seed: 0, user }, sources(files), victim);
  assert.is(capped.heldOut.count, 2);
  const noJb = await prepareUserData({ attacks: ["knockoff", "top1"], heldOutSize: 100, seed: 0, user }, sources(files), victim);
  assert.is(noJb.heldOut.count, 0);
  assert.is(noJb.test.count, 30);
  assert.is(noJb.described!.seeds, "none (no JB thief)");
});

test("an unlabeled test set is labelled with the victim's top-1; --seeds is used as given", async () => {
  const messages: string[] = [];
  const d = await prepareUserData({ attacks: ["jbda"], heldOutSize: 100, seed: 0, user: { ...user, test: "open", seeds: "seeds" } }, sources(files), victim, (m) => messages.push(m));
  assert.is(d.testLabels, "victim");
  assert.equal(Array.from(d.test.labels), [0, 0, 0, 0, 0, 0, 2, 2, 2, 2]);
  assert.is(d.test.count, 10);
  assert.is(d.heldOut.count, 7);
  assert.is(d.seedsName, "seeds seeds");
  assert.match(messages.join("\n"), /has no labels: accuracies are reported as agreement with the victim's top-1/);
  assert.match(d.described!.test, /labelled with the victim's top-1/);
  let error = "";
  try {
    await prepareUserData({ attacks: ["jbda"], heldOutSize: 100, seed: 0, user: { ...user, test: "tiny" } }, sources(files), victim);
  } catch (e) {
    error = (e as Error).message;
  }
  assert.match(error, /test set \/data\/tiny: 4 images are too few to withhold JB seeds from .*or give --seeds/);
});

test("prepareSetup: a user run's setup says what it used; GRAD² and Adaptive Misinformation are refused", async () => {
  const base: EvalConfig = {
    dataset: "user", user: { ...user, thiefArch: "mlp" }, attacks: ["knockoff"], settings: [{ defense: "none", params: {}, order: 0 }], budget: 10, seed: 0,
    transfer: "heldout", heldOutSize: 10, victim: { arch: "lenet", epochs: 1, batchSize: 8, learningRate: 0.01, momentum: 0.5 }, thiefParams: {}, threat: "user-transfer",
  };
  const logs: string[] = [];
  const env: EvalEnvironment = {
    sources: { mnist: () => { throw new Error("no MNIST"); }, fashionMnist: () => null, user: sources(files) },
    victims: { load: async () => null, save: async () => {}, where: (k) => k },
    loadCore: async () => ({}) as never,
    log: (m) => logs.push(m),
  };
  const setup = await prepareSetup(base, env, { trainVictim: false });
  assert.is(setup.spec.arch, "mlp");
  assert.is(setup.userRun!.thiefArch, "mlp (--thief-arch)");
  assert.match(setup.userRun!.proxy, /a scratch mlp/);
  assert.match(setup.victimKey, /^toy-user-[0-9a-f]{16}$/);
  assert.match(logs.join("\n"), /thieves' architecture: mlp \(--thief-arch\); MAD's proxy: a scratch mlp/);
  const md = toMarkdown([], { dataset: "toy", budget: 10, transferSet: "pool", victimAccuracy: 1, user: { ...setup.userRun!, testLabels: "victim" } });
  assert.match(md, /Victim: a toy victim\./);
  assert.match(md, /The test set has no labels: every accuracy in this report/);
  for (const defense of ["grad2", "adaptive-misinformation"]) {
    let error = "";
    try {
      await prepareSetup({ ...base, settings: [{ defense, params: {}, order: 0 }] }, env, { trainVictim: false });
    } catch (e) {
      error = (e as Error).message;
    }
    assert.match(error, new RegExp(`${defense}: these defenses need models trained on the victim's training data`));
  }
  const noFiles = { ...env, sources: { ...env.sources, user: undefined } };
  let error = "";
  try {
    await prepareSetup(base, noFiles, { trainVictim: false });
  } catch (e) {
    error = (e as Error).message;
  }
  assert.match(error, /cannot load a user's victim and data/);
});

test.run();
