// Errors a defense raises. Both name what is wrong, so a CLI or an HTTP 400 can show them as is.
import { PredictionPoisoningError } from "../core/errors.js";

/** A defense was asked for with an unknown name, a bad parameter, or a missing dependency. */
export class DefenseConfigError extends PredictionPoisoningError {
  declare readonly detail: string;

  constructor(
    readonly defense: string,
    readonly parameter: string | undefined,
    detail: string,
  ) {
    super("config", parameter === undefined ? `defense "${defense}": ${detail}` : `defense "${defense}": parameter "${parameter}": ${detail}`, {
      field: parameter,
      detail,
    });
    this.name = "DefenseConfigError";
  }
}

/** A parameter the defense (or chain) does not declare; `known` lists those it does. */
export class UnknownParameterError extends DefenseConfigError {
  constructor(
    defense: string,
    parameter: string,
    readonly known: readonly string[],
  ) {
    super(defense, parameter, `unknown parameter (known: ${known.join(", ") || "none"})`);
    this.name = "UnknownParameterError";
  }
}

/** A batch handed to a defense is malformed (shape, NaN, negative or non-normalised probabilities). */
export class DefenseInputError extends PredictionPoisoningError {
  declare readonly field: string;
  declare readonly row: number | undefined;
  declare readonly detail: string;

  constructor(field: string, row: number | undefined, detail: string) {
    super("input", row === undefined ? `${field}: ${detail}` : `${field}, row ${row}: ${detail}`, { field, row, detail });
    this.name = "DefenseInputError";
  }
}
