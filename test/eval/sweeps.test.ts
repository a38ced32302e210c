// The evaluation answers a grid's ε settings of one defense in one pass (src/eval/sweeps.ts): the
// groups, and answers and statistics equal to answering each setting alone.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore } from "../../src/core/index.js";
import { createDefense, DefendedModel, type Defense } from "../../src/defenses/index.js";
import { AnswerTable, predictAll } from "../../src/eval/black-box.js";
import type { DefenseSetting } from "../../src/eval/config.js";
import { answerSwept, epsilonGroups } from "../../src/eval/sweeps.js";
import { randomRows } from "../defenses/helpers.js";

const core = await loadCore();
const K = 10;
const count = 600; // three of predictAll's batches of 256
const shape = [3];
const images = Float32Array.from({ length: count * 3 }, (_, i) => ((i * 7919) % 1000) / 1000);
const victimProbs = randomRows(count, K, 11, 3);
const proxyProbs = randomRows(count, K, 12, 1);

test("groups: the settings of a defense that differ only in a numeric epsilon, in grid order", () => {
  const s = (defense: string, params: Record<string, unknown>): DefenseSetting => ({ defense, params });
  const settings = [
    s("mad-argmax", { epsilon: 0.5 }), s("mad", { epsilon: 0.5, oracle: "extreme" }), s("mad-argmax", { epsilon: 1 }),
    s("mad", { epsilon: 0.5, oracle: "random" }), s("reverse-sigmoid", { beta: 1 }), s("mad-argmax", { epsilon: 2 }),
  ];
  const groups = epsilonGroups(settings, (x) => x.params, () => "");
  assert.equal(groups.get(settings[0]), [settings[0], settings[2], settings[5]]);
  assert.is(groups.get(settings[2]), groups.get(settings[0]));
  assert.equal(groups.get(settings[1]), [settings[1]]);
  assert.equal(groups.get(settings[3]), [settings[3]]);
  assert.equal(groups.get(settings[4]), [settings[4]]);
  // Different secrets (keys) never share a pass.
  const keyed = epsilonGroups(settings.slice(0, 3), (x) => x.params, (x) => String(x.params.epsilon));
  assert.equal(keyed.get(settings[0]), [settings[0]]);
});

test("answered in one pass: every setting's answers and statistics are its own pass's, bit for bit", async () => {
  // The proxy's view rides with each batch: the table's rows in the order predictAll asks them.
  const proxy = {
    calls: 0,
    async probs() {
      throw new Error("unused");
    },
    async jacobian(batch: { data: Float32Array; batchSize: number }) {
      this.calls++;
      const first = batch.data.byteOffset / (4 * 3); // predictAll hands out subarrays of `images`
      return { kind: "probs" as const, proxyProbs: proxyProbs.subarray(first * K, (first + batch.batchSize) * K) };
    },
  };
  const group: DefenseSetting[] = [0.25, 1, 2].map((epsilon) => ({ defense: "mad-argmax", params: { epsilon } }));
  const made = (setting: DefenseSetting): Defense => createDefense(setting.defense, setting.params, { core, proxy });
  const paramsOf = (setting: DefenseSetting) => made(setting).params;
  const table = () => new AnswerTable(images, victimProbs, shape, K);
  const base = made(group[0]);
  const swept = await answerSwept(group, base as Defense & Required<Pick<Defense, "sweep">>, paramsOf, table(), images, count);
  const sweepCalls = proxy.calls;
  assert.is(sweepCalls, 3, "one proxy pass per batch for the whole group");
  for (const setting of group) {
    const alone = new DefendedModel(table(), made(setting), { numClasses: K, inputShape: shape });
    const answers = await predictAll(alone, images, count, shape);
    const got = swept.get(setting)!;
    assert.equal(Array.from(got.answers), Array.from(answers), `ε ${setting.params.epsilon}`);
    assert.equal(got.stats, alone.stats());
    assert.equal(got.defenseParams, { ...made(setting).params });
  }
});

test.run();
