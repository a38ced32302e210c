// One error base: every error class in src/ extends PredictionPoisoningError and carries a `kind`, and
// the CLI classifies errors by type, so an error whose message reads like another kind's is not misread.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CommanderError, InvalidArgumentError } from "commander";
import * as main from "../src/index.js";
import * as nodeEntry from "../src/node.js";
import { CoreInputError, PredictionPoisoningError, isProblem, loadCore, problemKinds } from "../src/core/index.js";
import { DefenseConfigError, DefenseInputError, PradaConfigError, UnknownParameterError } from "../src/defenses/index.js";
import { ThiefConfigError, ThiefInputError } from "../src/thieves/index.js";
import { ModelConfigError, ModelDataError, ModelInputError } from "../src/models/index.js";
import { ServiceError } from "../src/service/index.js";
import { errorKinds } from "../src/service/errors.js";
import { EvalConfigError, EvalDataError, EvalJobsFailedError } from "../src/eval/errors.js";
import { TrainingDivergedError } from "../src/models/training.js";
import { DataFileError } from "../src/node/data-files.js";
import { FileError } from "../src/node/errors.js";
import { FlagError, exitCodeOf } from "../src/cli/errors.js";
import { LineError, OutputClosedError } from "../src/cli/perturb.js";
import { defenseTransform } from "../src/cli/perturb-defense.js";

const root = resolve("src");

/** Every `class X extends Y` in src/ whose name ends in Error, with what it extends. */
function declaredErrorClasses(): { name: string; base: string; file: string }[] {
  const found: { name: string; base: string; file: string }[] = [];
  for (const f of readdirSync(root, { recursive: true }).map(String)) {
    if (!f.endsWith(".ts") || f.endsWith(".d.ts")) continue;
    const text = readFileSync(join(root, f), "utf8");
    for (const m of text.matchAll(/\bclass\s+(\w+Error)\s+extends\s+(\w+)/g)) found.push({ name: m[1], base: m[2], file: f });
  }
  return found;
}

// One instance of each class, built as its throw sites build it.
const samples: Error[] = [
  new PredictionPoisoningError("internal", "a broken invariant"),
  new CoreInputError("epsilon", null, "must be >= 0"),
  new DefenseConfigError("mad-argmax", "epsilon", "must be >= 0"),
  new UnknownParameterError("topk", "epsilon", ["k", "renormalize"]),
  new DefenseInputError("probs", 2, "sums to 1.3"),
  new PradaConfigError("prada: delta must be in (0, 1), got 2", "delta"),
  new ThiefConfigError('unknown thief "x"'),
  new ThiefInputError('thief "knockoff": budget must be an integer >= 1, got 0'),
  new ModelConfigError('unknown architecture "resnet"'),
  new ModelInputError("predict: batchSize must be a positive integer, got 0"),
  new ModelDataError("labels.idx: bad IDX magic 00 00 00 00"),
  new EvalConfigError('unknown preset "x"'),
  new EvalDataError("dataset fashion-mnist is not installed", undefined, "not-found"),
  new EvalJobsFailedError([{ job: "jbself vs grad2 epsilon=0.5", message: "training diverged", kind: "config" }]),
  new TrainingDivergedError("training diverged: loss is Infinity at epoch 4, batch 8 at learning rate 0.1"),
  new FileError("/nowhere", "key file /nowhere: cannot read it (ENOENT)", "not-found"),
  new DataFileError("/data/x.png", "cannot decode it as an image"),
  new FlagError("--epsilon: must be a number"),
  new LineError(3, "not valid JSON"),
  new OutputClosedError(new Error("EPIPE")),
  new ServiceError("validation", "inputs: must be an array", "inputs"),
];

test("every error class in src/ extends PredictionPoisoningError, directly or through another error class", () => {
  const classes = declaredErrorClasses();
  const names = new Set(classes.map((c) => c.name));
  assert.ok(classes.length >= 18, `found ${classes.length}`);
  for (const c of classes) {
    assert.ok(c.base === "PredictionPoisoningError" || names.has(c.base), `${c.file}: ${c.name} extends ${c.base}`);
  }
  // ... and each has a sample here, so the runtime checks below cover it.
  const sampled = new Set(samples.map((e) => e.constructor.name));
  for (const c of classes) assert.ok(sampled.has(c.name), `no sample of ${c.name} (${c.file})`);
});

test("each carries a kind (a ProblemKind, or the service's own kinds), its class name as name, and where it is", () => {
  for (const e of samples) {
    assert.instance(e, PredictionPoisoningError, e.constructor.name);
    assert.instance(e, Error);
    assert.is(e.name, e.constructor.name);
    const kind = (e as PredictionPoisoningError<string>).kind;
    if (e instanceof ServiceError) assert.ok(errorKinds.includes(e.kind), kind);
    else assert.ok(isProblem(e) && problemKinds.includes(e.kind), `${e.name}: kind ${kind}`);
  }
  const core = new CoreInputError("probs", 1, "entry 0 is NaN");
  assert.equal([core.kind, core.field, core.row, core.detail, core.message], ["input", "probs", 1, "entry 0 is NaN", "row 1, probs: entry 0 is NaN"]);
  const defense = new DefenseConfigError("topk", "k", "must be an integer");
  assert.equal([defense.kind, defense.field, defense.detail, defense.message], ["config", "k", "must be an integer", 'defense "topk": parameter "k": must be an integer']);
  const file = new DataFileError("/d/labels.npy", "does not exist", "not-found");
  assert.equal([file.kind, file.field, file.path, file.detail], ["not-found", "/d/labels.npy", "/d/labels.npy", "does not exist"]);
  assert.instance(file, FileError);
  assert.is(new ServiceError("not_found", "no route").status, 404);
  assert.not.ok(isProblem(new ServiceError("validation", "x")), "the service's kinds are its own");
});

test("the public entries export only error classes on the base", () => {
  const exported = [...Object.entries(main), ...Object.entries(nodeEntry)]
    .map(([name, value]) => [name, value as unknown] as const)
    .filter((entry): entry is readonly [string, { prototype: unknown }] => typeof entry[1] === "function" && (entry[1] as { prototype: unknown }).prototype instanceof Error);
  assert.ok(exported.length >= 12, exported.map(([k]) => k).join(", "));
  for (const [name, cls] of exported) assert.ok(cls === PredictionPoisoningError || cls.prototype instanceof PredictionPoisoningError, name);
});

test("the CLI's exit code is chosen by the error's type, not its message", () => {
  assert.is(exitCodeOf(new CommanderError(2, "commander.unknownOption", "error: unknown option '--x'")), 2);
  assert.is(exitCodeOf(new CommanderError(0, "commander.helpDisplayed", "(outputHelp)")), 0);
  assert.is(exitCodeOf(new InvalidArgumentError("expected an integer")), 2);
  assert.is(exitCodeOf(new FlagError("--epsilon: must be a number")), 2);
  assert.is(exitCodeOf(new FlagError("config file c.json: not valid JSON", { field: "--config" }, "config")), 2);
  // A flag error's text on a plain error, or on a failure of the work itself, is still a failure (1) ...
  assert.is(exitCodeOf(new Error("error: unknown option '--bogus'")), 1);
  assert.is(exitCodeOf(new ModelConfigError("vgg needs height and width divisible by 8, got [20,20,3]")), 1);
  assert.is(exitCodeOf(new DataFileError("/d", "--epsilon: must be a number")), 1);
  // ... and a flag error reading like a missing file is still a flag error.
  assert.is(exitCodeOf(new FlagError("--model /m: no model.json there")), 2);
  assert.is(exitCodeOf("thrown text"), 1);
});

test("perturb --defense: a parameter's value that reads like 'unknown parameter' is not taken for one", async () => {
  const core = await loadCore();
  const refused = (flags: Record<string, unknown>): CoreInputError => {
    try {
      defenseTransform(core, flags, (flag) => flag in flags && flag !== "defense");
    } catch (error) {
      assert.instance(error, CoreInputError);
      return error as CoreInputError;
    }
    throw new Error("expected a CoreInputError");
  };
  // topk's k is an integer: the value is wrong, the flag applies.
  const badValue = refused({ defense: "topk", k: "unknown parameter" });
  assert.is(badValue.field, "k");
  assert.match(badValue.detail, /unknown parameter/);
  assert.not.match(badValue.detail, /does not apply/);
  // epsilon is another defense's parameter: an UnknownParameterError, said as "does not apply".
  const notTopk = refused({ defense: "topk", epsilon: "0.1" });
  assert.equal([notTopk.field, notTopk.detail], ["epsilon", "does not apply to --defense topk"]);
});

test("a defense's input error keeps its field, row and detail through perturb's rephrasing", async () => {
  const core = await loadCore();
  const transform = defenseTransform(core, { defense: "labels" }, () => false);
  try {
    await transform({ probs: Float64Array.of(0.5, 0.5, 0.2, 0.9), proxyProbs: null, numClasses: 2, rows: 2 });
  } catch (error) {
    assert.instance(error, CoreInputError);
    const e = error as CoreInputError;
    assert.equal([e.field, e.row], ["probs", 1]);
    assert.match(e.detail, /sums to/);
    return;
  }
  assert.unreachable("expected the second row to be refused");
});

test("errors built from a cause keep it", () => {
  const cause = new Error("EPIPE");
  assert.is(new OutputClosedError(cause).cause, cause);
  assert.is(new PredictionPoisoningError("data", "x", { cause }).cause, cause);
});

test.run();
