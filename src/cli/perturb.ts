// `prediction-poisoning perturb`: JSON lines {"probs":[...], "proxyProbs":[...]} on stdin, one
// {"probs":[...]} line out per line in, in order. Streams in batches (one WASM call per batch), so a
// million lines never sit in memory; a bad line stops the run after every line before it is written.
// Lines may have different numbers of classes K: a batch is a run of consecutive lines of one K (a new
// batch starts where K changes), and a defense that cannot take another K is blamed on that line.
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { Command, Option } from "commander";
import { CoreInputError, PredictionPoisoningError, loadCore, type Core, type PerturbOptions } from "../core/index.js";
import { FlagError } from "./errors.js";
import { addDefenseOptions, defenseTransform } from "./perturb-defense.js";
import type { BatchTransform } from "./perturb-transform.js";

export type { BatchTransform, LineBatch } from "./perturb-transform.js";

/** Lines perturbed per WASM call. */
export const LINES_PER_BATCH = 1024;

export function madTransform(core: Core, options: PerturbOptions): BatchTransform {
  const perturber = core.createPerturber(options);
  return (batch) =>
    perturber.perturb(batch.probs, batch.numClasses, batch.proxyProbs ? { kind: "probs", proxyProbs: batch.proxyProbs } : { kind: "identity" });
}

/** The output stream failed (EPIPE: its reader closed it); nothing more can be written. */
export class OutputClosedError extends PredictionPoisoningError {
  constructor(override readonly cause: Error) {
    super("unavailable", `output closed: ${cause.message}`, { cause });
    this.name = "OutputClosedError";
  }
}

/** A problem with one input line (1-based line number). */
export class LineError extends PredictionPoisoningError {
  declare readonly detail: string;

  constructor(
    readonly line: number,
    problem: string,
  ) {
    // "data": the lines are what perturb reads, like a data file; bad flags are FlagError.
    super("data", `line ${line}: ${problem}`, { detail: problem });
    this.name = "LineError";
  }
}

function numberArray(value: unknown, field: string, line: number): number[] {
  if (!Array.isArray(value)) throw new LineError(line, `"${field}" must be an array of numbers`);
  for (let i = 0; i < value.length; i++)
    if (typeof value[i] !== "number") throw new LineError(line, `"${field}"[${i}] is ${JSON.stringify(value[i])}, not a number`);
  return value as number[];
}

interface ParsedLine {
  line: number;
  probs: number[];
  proxyProbs: number[] | null;
}

function parseLine(text: string, line: number): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new LineError(line, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new LineError(line, 'must be a JSON object like {"probs":[...]}');
  const record = value as Record<string, unknown>;
  if (!("probs" in record)) throw new LineError(line, 'missing "probs"');
  const probs = numberArray(record.probs, "probs", line);
  const proxyProbs = record.proxyProbs === undefined ? null : numberArray(record.proxyProbs, "proxyProbs", line);
  if (proxyProbs && proxyProbs.length !== probs.length)
    throw new LineError(line, `"proxyProbs" has ${proxyProbs.length} entries but "probs" has ${probs.length}`);
  return { line, probs, proxyProbs };
}

/**
 * Runs the stream. Returns normally when every line was answered; throws LineError (after writing
 * the answers to all earlier lines) at the first bad line.
 */
export async function perturbStream(input: Readable, output: Writable, transform: BatchTransform, batchSize = LINES_PER_BATCH): Promise<number> {
  const reader = createInterface({ input, crlfDelay: Infinity });
  let pending: ParsedLine[] = [];
  // The K of the last batch answered and the line its run of that K began on (for the error when a
  // defense fixed to one K, e.g. a stateful codebook, refuses the next).
  let answered: { K: number; from: number } | null = null;
  let written = 0;

  // The reader of our output may go away (`| head`): stop reading input and end quietly.
  let outputError: Error | null = null;
  output.on("error", (error: Error) => {
    outputError = error;
    reader.close();
  });
  const write = async (text: string) => {
    if (outputError === null && !output.write(text))
      await new Promise<void>((resolve) => {
        const done = () => {
          output.off("drain", done);
          output.off("error", done);
          resolve();
        };
        output.on("drain", done);
        output.on("error", done);
      });
    if (outputError !== null) throw new OutputClosedError(outputError);
  };

  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    const rows = batch.length;
    const K = batch[0].probs.length; // every line of a batch has this K (a new batch starts where it changes)
    const probs = new Float64Array(rows * K);
    const withProxy = batch[0].proxyProbs !== null;
    const proxyProbs = withProxy ? new Float64Array(rows * K) : null;
    for (let r = 0; r < rows; r++) {
      probs.set(batch[r].probs, r * K);
      if (proxyProbs) proxyProbs.set(batch[r].proxyProbs as number[], r * K);
    }
    let answers: Float64Array;
    try {
      answers = await transform({ probs, proxyProbs, numClasses: K, rows });
    } catch (error) {
      if (error instanceof CoreInputError && error.row === null && answered !== null && answered.K !== K) {
        // A whole-batch refusal right where K changed: the transform is fixed to the earlier K.
        throw new LineError(
          batch[0].line,
          `"probs" has ${K} entries where the lines before had ${answered.K} (from line ${answered.from}), and the defense cannot take another number of classes: ${error.message}`,
        );
      }
      if (!(error instanceof CoreInputError) || error.row === null) throw error;
      // Answer the lines before the bad one, then blame it.
      const good = error.row;
      if (good > 0) {
        const head = await transform({
          probs: probs.subarray(0, good * K),
          proxyProbs: proxyProbs ? proxyProbs.subarray(0, good * K) : null,
          numClasses: K,
          rows: good,
        });
        await write(formatRows(head, good, K));
        written += good;
      }
      throw new LineError(batch[good].line, `${error.field}: ${error.detail}`);
    }
    await write(formatRows(answers, rows, K));
    written += rows;
    if (answered === null || answered.K !== K) answered = { K, from: batch[0].line };
  };

  let lineNumber = 0;
  for await (const text of reader) {
    lineNumber++;
    if (text.trim() === "") continue;
    let parsed: ParsedLine;
    try {
      parsed = parseLine(text, lineNumber);
      if (parsed.probs.length < 2) throw new LineError(lineNumber, `"probs" needs at least 2 classes (has ${parsed.probs.length})`);
    } catch (error) {
      await flush(); // the earlier lines are good: answer them before stopping
      reader.close();
      throw error;
    }
    // A batch shares one K and one Jacobian kind: flush when K changes, or lines switch between having proxyProbs and not.
    if (pending.length > 0 && (pending[0].probs.length !== parsed.probs.length || (pending[0].proxyProbs === null) !== (parsed.proxyProbs === null))) await flush();
    pending.push(parsed);
    if (pending.length >= batchSize) await flush();
  }
  await flush();
  return written;
}

function formatRows(values: Float64Array, rows: number, K: number): string {
  let text = "";
  for (let r = 0; r < rows; r++) text += `{"probs":[${values.subarray(r * K, (r + 1) * K).join(",")}]}\n`;
  return text;
}

interface PerturbFlags {
  oracle?: PerturbOptions["oracle"];
  objective: PerturbOptions["objective"];
  distance?: PerturbOptions["distance"];
  epsilon?: string;
  step: NonNullable<PerturbOptions["step"]>;
  seed: string;
  /** --defense and its parameter flags (src/cli/perturb-defense.ts). */
  defense?: string;
  [flag: string]: unknown;
}

function toNumber(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) throw new CoreInputError(flag, null, `must be a number (got ${JSON.stringify(text)})`);
  return value;
}

/** Builds the per-batch transform from the flags (the place a `--defense` option plugs in). */
export async function buildTransform(flags: PerturbFlags, given: (flag: string) => boolean = (f) => flags[f] !== undefined): Promise<BatchTransform> {
  const core = await loadCore();
  if (flags.defense !== undefined) return defenseTransform(core, flags, given);
  for (const flag of ["oracle", "distance", "epsilon"] as const)
    if (flags[flag] === undefined) throw new CoreInputError(flag, null, "is required (MAD) unless --defense is given");
  return madTransform(core, {
    oracle: flags.oracle!,
    objective: flags.objective,
    distance: flags.distance!,
    epsilon: toNumber("epsilon", flags.epsilon!),
    step: flags.step,
    seed: toNumber("seed", flags.seed),
  });
}

export const perturbCommand = addDefenseOptions(new Command("perturb")
  .description('Poison probability vectors with MAD (or any --defense): JSON lines {"probs":[...],"proxyProbs":[...]} on stdin, {"probs":[...]} lines on stdout.')
  .addOption(new Option("--oracle <name>", "how the target is chosen (required without --defense)").choices(["extreme", "argmax", "random", "argmin"]))
  .addOption(new Option("--objective <name>", "H (angular) or S (surrogate)").choices(["angular", "surrogate"]).default("angular"))
  .addOption(new Option("--distance <name>", "the budget's distance (required without --defense)").choices(["l1", "l2", "kl"]))
  .option("--epsilon <number>", "the budget: distance between y and the answer (required without --defense)")
  .addOption(new Option("--step <name>", "how y moves towards the target").choices(["linesearch", "projections", "reachable"]).default("linesearch"))
  .option("--seed <integer>", "seed of the random oracle", "0"))
  .action(async (flags: PerturbFlags, command: Command) => {
    let transform: BatchTransform;
    try {
      transform = await buildTransform(flags, (flag) => command.getOptionValueSource(flag) === "cli");
    } catch (error) {
      // A flag the transform refused: a usage error (exit code 2) naming the flag.
      if (error instanceof CoreInputError) throw new FlagError(`--${error.field}: ${error.detail}`, { field: `--${error.field}`, detail: error.detail, cause: error });
      throw error;
    }
    try {
      await perturbStream(process.stdin, process.stdout, transform);
    } catch (error) {
      if (error instanceof LineError) {
        process.stderr.write(`error: ${error.message}\n`);
        process.exitCode = 1;
        return;
      }
      // Downstream stopped reading (`| head`): like other filters, stop without complaint.
      if (error instanceof OutputClosedError && (error.cause as NodeJS.ErrnoException).code === "EPIPE") {
        process.stdin.destroy();
        return;
      }
      throw error;
    }
  });
