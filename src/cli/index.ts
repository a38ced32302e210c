#!/usr/bin/env node
// The `prediction-poisoning` command: one subcommand per file in this folder. To add one: export a
// commander Command from src/cli/<name>.ts (keep its top-level imports light: import heavy modules
// inside the action) and add it to `subcommands` below. Every subcommand then gets `--config <file>`,
// readable errors for bad flags (exit code 2) and for failures in its action (exit code 1); the code is
// chosen by the error's type (src/cli/errors.ts).
import { Command, CommanderError } from "commander";
import { withConfigFile } from "./config.js";
import { exitCodeOf } from "./errors.js";
import { serveCommand } from "./serve.js";
import { benchCommand } from "./bench.js";
import { perturbCommand } from "./perturb.js";
import { evaluateCommand } from "./evaluate.js";
import { trainCommand } from "./train.js";
import { verifyCommand } from "./verify.js";
import { detectCommand } from "./detect.js";

const program = new Command("prediction-poisoning")
  .description("Protect prediction APIs against model stealing with poisoned probabilities (MAD).")
  .version("0.1.0")
  .showHelpAfterError("(add --help for usage)")
  .exitOverride((err) => process.exit(exitCodeOf(err)));

const subcommands: Command[] = [serveCommand, benchCommand, perturbCommand, evaluateCommand, trainCommand, verifyCommand, detectCommand];

for (const sub of subcommands) {
  sub.copyInheritedSettings(program);
  withConfigFile(sub);
  program.addCommand(sub);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const code = exitCodeOf(e);
  // Commander has already printed its own errors; the others get one readable line, no stack.
  if (!(e instanceof CommanderError)) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.PREDICTION_POISONING_DEBUG && e instanceof Error) console.error(e.stack);
  }
  process.exit(code);
}
