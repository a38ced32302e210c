// How the CLI ends on an error, decided by the error's type, never by its message: 2 when the command
// line is wrong (commander's own errors, FlagError), 1 when the action failed (any other error, this
// project's typed ones included: the command line was accepted, the work it asked for was not possible).
import { CommanderError } from "commander";
import { PredictionPoisoningError, type ProblemLocation } from "../core/errors.js";

/** A flag's value, or a --config file, the command cannot run with; `field` is the flag ("--epsilon") or file. */
export class FlagError extends PredictionPoisoningError {
  constructor(message: string, location?: ProblemLocation, kind: "input" | "config" = "input") {
    super(kind, message, location);
    this.name = "FlagError";
  }
}

/** The exit code for an error that ended a command (0 only for commander's --help and --version exits). */
export function exitCodeOf(error: unknown): 0 | 1 | 2 {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  if (error instanceof FlagError) return 2;
  return 1;
}
