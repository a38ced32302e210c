#!/usr/bin/env node
// The `prediction-poisoning` command: one subcommand per file in this folder.
import { Command } from "commander";

const program = new Command("prediction-poisoning")
  .description("Protect prediction APIs against model stealing with poisoned probabilities (MAD).")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

// Subcommands (each file exports a commander Command):
const subcommands: Command[] = [];
for (const sub of subcommands) program.addCommand(sub);

await program.parseAsync(process.argv);
