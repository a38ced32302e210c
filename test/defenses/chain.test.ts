// Chains (chain.ts and the registry's "a>b" names): stage order, traits, pass-through of the batch's
// context, parameter routing (flat, "stage.param", nested), errors, and `perturb --defense a>b` end to end.
import { spawn } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore } from "../../src/core/index.js";
import {
  chainDefenses, createDefense, DefenseConfigError, describeDefense, parseParameterStrings, publicParameters,
  type Defense, type DefenseBatch, type DefenseTraits,
} from "../../src/defenses/index.js";
import { batchOf, randomRows } from "./helpers.js";

const core = await loadCore();
const KEY = "000102030405060708090a0b0c0d0e0f";
const plain: DefenseTraits = { keepsTop1: true, needsInput: false, stateful: false, randomized: false, onSimplex: true };

/** A stage that records what it was given and answers with its y rotated by one class. */
function recorder(name: string, traits: Partial<DefenseTraits> = {}, log: string[] = [], flag?: number[]) {
  const seen: DefenseBatch[] = [];
  const d: Defense = {
    name,
    params: { id: name },
    traits: { ...plain, ...traits },
    async apply(batch) {
      seen.push(batch);
      const K = batch.numClasses;
      const out = new Float32Array(batch.probs.length);
      for (let i = 0; i < batch.batchSize; i++) for (let k = 0; k < K; k++) out[i * K + ((k + 1) % K)] = batch.probs[i * K + k];
      return flag ? { probs: out, flagged: Uint8Array.from(flag) } : { probs: out };
    },
    reset: () => void log.push(`reset ${name}`),
    dispose: () => void log.push(`dispose ${name}`),
  };
  return { d, seen };
}

const fails = (fn: () => unknown, pattern: RegExp, parameter?: string) => {
  try {
    fn();
  } catch (e) {
    assert.instance(e, DefenseConfigError);
    assert.match((e as Error).message, pattern);
    if (parameter !== undefined) assert.is((e as DefenseConfigError).parameter, parameter);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
};

test("chainDefenses: stages in order, the batch's context passed through, flags OR-ed, reset and dispose forwarded", async () => {
  const log: string[] = [];
  const a = recorder("a", {}, log, [1, 0]);
  const b = recorder("b", {}, log, [0, 0]);
  const chain = chainDefenses([a.d, b.d]);
  assert.is(chain.name, "a>b");
  assert.equal(chain.params, { a: { id: "a" }, b: { id: "b" } });
  const probs = new Float32Array([0.5, 0.3, 0.2, 0.1, 0.1, 0.8]);
  const inputs = { data: new Float32Array(2), batchSize: 2, inputShape: [1] };
  const proxyProbs = new Float32Array(6).fill(1 / 3);
  const result = await chain.apply({ probs, batchSize: 2, numClasses: 3, inputs, proxyProbs, clientId: "alice" });
  assert.equal(Array.from(result.probs), Array.from(new Float32Array([0.3, 0.2, 0.5, 0.1, 0.8, 0.1])), "rotated twice");
  assert.equal(Array.from(b.seen[0].probs), Array.from(new Float32Array([0.2, 0.5, 0.3, 0.8, 0.1, 0.1])), "b answers a's answers");
  for (const s of [a.seen[0], b.seen[0]]) {
    assert.is(s.inputs, inputs);
    assert.is(s.proxyProbs, proxyProbs);
    assert.is(s.clientId, "alice");
  }
  assert.equal(Array.from(result.flagged!), [1, 0]);
  chain.reset?.();
  chain.dispose?.();
  assert.equal(log, ["reset a", "reset b", "dispose a", "dispose b"]);
});

test("chainDefenses: traits combine soundly", () => {
  const t = (...stages: Partial<DefenseTraits>[]) => chainDefenses(stages.map((s, i) => recorder(`s${i}`, s).d)).traits;
  assert.equal(t({}, {}), plain);
  assert.is(t({}, { keepsTop1: false }).keepsTop1, false);
  assert.is(t({ keepsTop1: false }, {}).keepsTop1, false);
  assert.is(t({ needsInput: true }, {}).needsInput, true);
  assert.is(t({}, { stateful: true }).stateful, true);
  assert.is(t({ randomized: true }, {}).randomized, true);
  assert.is(t({}, { keyed: true }).keyed, true);
  assert.is(t({}, {}).keyed, undefined);
  assert.is(t({}, { onSimplex: false }).onSimplex, false);
  fails(() => t({ onSimplex: false }, {}), /stage "s0" does not answer on the simplex, so it cannot feed "s1"/);
  fails(() => chainDefenses([recorder("a").d, recorder("a").d]), /stage "a" appears twice/);
  fails(() => chainDefenses([]), /at least one stage/);
});

test("the registry builds a chain by name: modelguard-s, then MAD-argmax on its answers", async () => {
  const K = 10;
  const probs = randomRows(20, K, 3);
  const proxyProbs = randomRows(20, K, 4, 1);
  const chain = createDefense("modelguard-s>mad-argmax", { capacity: 4, "modelguard-s.epsilon": 0.4, "mad-argmax.epsilon": 0.6, step: "reachable" }, { core });
  assert.is(chain.name, "modelguard-s>mad-argmax");
  assert.equal(chain.params, {
    "modelguard-s": { epsilon: 0.4, capacity: 4 },
    "mad-argmax": createDefense("mad-argmax", { epsilon: 0.6, step: "reachable" }, { core }).params,
  });
  assert.equal(chain.traits, { keepsTop1: true, needsInput: false, stateful: true, randomized: false, onSimplex: true });
  const answer = await chain.apply(batchOf(probs, K, { proxyProbs }));
  const quantised = await createDefense("modelguard-s", { epsilon: 0.4, capacity: 4 }).apply(batchOf(probs, K));
  const expected = await createDefense("mad-argmax", { epsilon: 0.6, step: "reachable" }, { core }).apply(batchOf(quantised.probs, K, { proxyProbs }));
  assert.equal(Array.from(answer.probs), Array.from(expected.probs));
  // The chain's own params (nested per stage) build the same chain again; spaces around ">" are fine.
  const again = createDefense(" modelguard-s > mad-argmax ", chain.params, { core });
  assert.equal(again.params, chain.params);
  assert.is(again.name, chain.name);
  // Defaults: each stage's own.
  assert.equal(createDefense("modelguard-s>mad-argmax", {}, { core }).params["modelguard-s"], { epsilon: 1, capacity: 1024 });
});

test("chain parameters: shared names must be qualified; errors name the chain and the parameter as given", () => {
  const name = "modelguard-s>mad-argmax";
  fails(() => createDefense(name, { epsilon: 0.5 }, { core }), /parameter "epsilon": is declared by several stages: give it as "modelguard-s.epsilon" or "mad-argmax.epsilon"/, "epsilon");
  fails(() => createDefense(name, { capacity: 0 }, { core }), /defense "modelguard-s>mad-argmax": parameter "capacity": must be an integer >= 1/, "capacity");
  fails(() => createDefense(name, { "mad-argmax.epsilon": -1 }, { core }), /parameter "mad-argmax.epsilon": must be a number >= 0/, "mad-argmax.epsilon");
  fails(() => createDefense(name, { k: 2 }, { core }), /parameter "k": unknown parameter \(known: modelguard-s.epsilon, capacity, mad-argmax.epsilon, step/, "k");
  fails(() => createDefense(name, { "mad-argmax.capacity": 2 }, { core }), /unknown parameter/);
  fails(() => createDefense(name, { capacity: 3, "modelguard-s": { capacity: 4 } }, { core }), /"modelguard-s.capacity": is given twice/);
  fails(() => createDefense(name, { "modelguard-s": 3 }, { core }), /a stage's parameters must be an object/);
  fails(() => createDefense(name, {}), /defense "modelguard-s>mad-argmax": stage "mad-argmax": needs the WASM core/);
  fails(() => createDefense("modelguard-s>madd", {}, { core }), /defense "madd": unknown defense \(known: none, topk, .*modelguard-s/);
  fails(() => createDefense("modelguard-s>>mad", {}, { core }), /none empty/);
  fails(() => createDefense("mad>mad", {}, { core }), /stage "mad" appears twice/);
  fails(() => createDefense("topk>mad-argmax", {}, { core }), /stage "topk" does not answer on the simplex/);
  assert.ok(createDefense("topk>mad-argmax", { renormalize: true }, { core }).traits.keepsTop1);
});

test("describeDefense, publicParameters and parseParameterStrings accept chain names", () => {
  const name = "modelguard-s>mad-argmax";
  const info = describeDefense(name);
  assert.is(info.name, name);
  assert.ok(info.needsCore);
  assert.match(info.description, /modelguard-s, then mad-argmax/);
  assert.equal(info.parameters.map((p) => p.name), ["modelguard-s.epsilon", "capacity", "mad-argmax.epsilon", "step", "exactLimit", "jacobian", "layers", "keyMix", "keyJitter", "keyCell", "key"]);
  assert.ok(info.parameters.find((p) => p.name === "key")!.secret);
  const pub = publicParameters(name, { capacity: 8, keyMix: 0.5, key: KEY, "mad-argmax.epsilon": 0.7 });
  assert.not.ok("key" in pub);
  assert.equal(pub, {
    "modelguard-s.epsilon": 1, capacity: 8, "mad-argmax.epsilon": 0.7, step: "linesearch", exactLimit: 20, jacobian: "last-layer", keyMix: 0.5, keyJitter: 0, keyCell: 0.1,
  });
  // The flat public form builds the chain (with the key added back, as serve does).
  const keyed = createDefense(name, { ...pub, key: KEY }, { core });
  assert.ok(keyed.traits.keyed);
  assert.not.ok(JSON.stringify(keyed.params).includes(KEY));
  assert.equal(parseParameterStrings(name, { capacity: "5", "mad-argmax.epsilon": "0.5", layers: "a, b", step: undefined }), {
    capacity: 5,
    "mad-argmax.epsilon": 0.5,
    layers: ["a", "b"],
  });
  fails(() => parseParameterStrings(name, { capacity: "five" }), /parameter "capacity": must be a number, got "five"/, "capacity");
  fails(() => parseParameterStrings(name, { epsilon: "1" }), /declared by several stages/, "epsilon");
});

function runPerturb(args: string[], input: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", "perturb", ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(input);
  });
}

test("perturb --defense accepts a chain; --param gives qualified parameters", async () => {
  const rows = [
    [0.7, 0.2, 0.05, 0.05],
    [0.72, 0.18, 0.05, 0.05],
    [0.1, 0.3, 0.5, 0.1],
  ];
  const proxyRow = [0.4, 0.3, 0.2, 0.1];
  const input = rows.map((probs) => JSON.stringify({ probs, proxyProbs: proxyRow })).join("\n") + "\n";
  const [ok, ambiguous, unknown] = await Promise.all([
    runPerturb(["--defense", "modelguard-s>mad-argmax", "--capacity", "8", "--param", "modelguard-s.epsilon=0.2", "--param", "mad-argmax.epsilon=0.5"], input),
    runPerturb(["--defense", "modelguard-s>mad-argmax", "--epsilon", "0.5"], input),
    runPerturb(["--defense", "modelguard-s>madd"], input),
  ]);
  assert.is(ok.code, 0, ok.stderr);
  const expected = await createDefense("modelguard-s>mad-argmax", { capacity: 8, "modelguard-s.epsilon": 0.2, "mad-argmax.epsilon": 0.5 }, { core }).apply({
    probs: Float32Array.from(rows.flat()),
    batchSize: 3,
    numClasses: 4,
    proxyProbs: Float32Array.from(rows.flatMap(() => proxyRow)),
  });
  const got = ok.stdout.trim().split("\n").map((l) => JSON.parse(l).probs as number[]);
  assert.equal(got.flat(), Array.from(expected.probs));
  assert.equal(got[1], got[0], "the second row is within ε of the first: the same answer");
  assert.is(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /--epsilon: is declared by several stages: give it as "modelguard-s.epsilon" or "mad-argmax.epsilon"/);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /unknown defense \(known: none/);
});

test.run();
